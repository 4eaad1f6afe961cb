// Starts Swagger UI on the document named by this script tag (no inline script needed).
window.addEventListener("load", function () {
  var url = document.getElementById("swagger-init").dataset.specUrl;
  window.ui = SwaggerUIBundle({
    url: url,
    dom_id: "#swagger-ui",
    validatorUrl: null,
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
  });
});

"""A small Python renderer for the subset of kustomize that ``deploy/k8s/`` uses.

``build(path)`` returns what ``kustomize build path`` (or ``kubectl kustomize path``)
prints, as a list of objects, for kustomizations made only of these fields:

- ``resources``: YAML files (several documents each) and directories holding a
  ``kustomization.yaml``, built recursively, each with its own fields applied first;
- ``configMapGenerator``: ``name`` with ``literals`` and/or ``files``, and ``behavior``
  ``create`` (the default) or ``merge`` (an overlay's keys over a base's generated
  ConfigMap of that name); named ``<name>-<hash>`` with kustomize's content hash, and
  the references to it renamed: ``configMapRef``, ``configMapKeyRef`` and
  ``configMap`` (volumes) anywhere in an object;
- ``patches``: inline ``patch`` or ``path``, with an optional ``target`` (``kind``,
  ``name`` as an anchored regular expression, ``group``, ``version``, ``namespace``).
  A patch that is a list is JSON 6902 (add, remove, replace, test); a mapping is a
  strategic-merge patch on its own kind and name, merged as dicts are merged, a
  ``null`` deleting a key, lists of mappings that all have a ``name`` merged by name
  and other lists replaced (enough for the scalar fields the overlays patch);
- ``namespace``: ``metadata.namespace`` of every namespaced object;
- ``labels`` with ``pairs`` only: added to ``metadata.labels`` (no selectors, no
  templates: pod templates carry their labels explicitly);
- ``images``: ``name`` with ``newName``, ``newTag`` and/or ``digest``, in every
  ``containers`` and ``initContainers`` list.

Transformers run in kustomize's order (patches, namespace, labels, images); anything
else in a kustomization raises ``Unsupported``, so a manifest cannot quietly use a
feature this renderer would get wrong. tests/unit/test_k8s.py also checks that the
result equals real kustomize's wherever ``kustomize`` or ``kubectl`` is installed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

SUPPORTED_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "configMapGenerator",
    "patches",
    "namespace",
    "labels",
    "images",
}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
}
CONFIGMAP_REFERENCES = ("configMapRef", "configMapKeyRef", "configMap")


class Unsupported(ValueError):
    """The kustomization uses something this renderer does not implement."""


def build(path: Path | str) -> list[Obj]:
    """The objects ``kustomize build path`` renders."""
    objects, renames = _build(Path(path))
    for obj in objects:
        _rename_configmap_references(obj, renames)
    return objects


def object_id(obj: Obj) -> tuple[str, str, str, str]:
    """(apiVersion, kind, namespace, name): unique in one build."""
    meta = obj.get("metadata", {})
    return obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"]


def _build(root: Path) -> tuple[list[Obj], dict[str, str]]:
    kustomization = yaml.safe_load((root / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise Unsupported(f"{root}: kustomization fields {sorted(unknown)}")
    objects: list[Obj] = []
    renames: dict[str, str] = {}
    for entry in kustomization.get("resources", []):
        target = root / entry
        if target.is_dir():
            built, renamed = _build(target)
            objects += built
            renames.update(renamed)
        else:
            objects += [d for d in yaml.safe_load_all(target.read_text()) if d is not None]
    for generator in kustomization.get("configMapGenerator", []):
        configmap = _generate_configmap(root, generator)
        if generator.get("behavior", "create") == "merge":
            existing = renames.get(generator["name"])
            (merged,) = [o for o in objects if _is_configmap(o, existing)] or [None]
            if merged is None:
                raise Unsupported(f"{root}: no ConfigMap {generator['name']} to merge into")
            objects.remove(merged)
            configmap["data"] = {**merged["data"], **configmap["data"]}
            configmap["metadata"] = {**merged["metadata"], "name": generator["name"]}
        elif generator.get("behavior", "create") != "create":
            raise Unsupported(f"{root}: configMapGenerator behavior {generator['behavior']}")
        hashed = f"{generator['name']}-{_configmap_hash(configmap['data'])}"
        configmap["metadata"]["name"] = renames[generator["name"]] = hashed
        objects.append(configmap)
    seen: set[tuple[str, str, str, str]] = set()
    for obj in objects:
        if object_id(obj) in seen:
            raise Unsupported(f"{root}: {object_id(obj)} defined twice")
        seen.add(object_id(obj))
    for patch in kustomization.get("patches", []):
        _apply_patch(root, objects, patch)
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    for label in kustomization.get("labels", []):
        if set(label) - {"pairs"}:
            raise Unsupported(f"{root}: labels options {sorted(set(label) - {'pairs'})}")
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    for image in kustomization.get("images", []):
        if set(image) - {"name", "newName", "newTag", "digest"}:
            raise Unsupported(f"{root}: image fields {sorted(image)}")
        for obj in objects:
            _set_images(obj, image)
    return objects, renames


# -- configMapGenerator ------------------------------------------------------------------


def _is_configmap(obj: Obj, name: str | None) -> bool:
    return obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == name


def _generate_configmap(root: Path, generator: Obj) -> Obj:
    if set(generator) - {"name", "literals", "files", "behavior"}:
        raise Unsupported(f"{root}: configMapGenerator fields {sorted(generator)}")
    data: dict[str, str] = {}
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
        data[key] = value[1:-1] if quoted else value
    for file in generator.get("files", []):
        key, sep, source = file.partition("=")
        path = root / (source if sep else key)
        data[Path(key).name if not sep else key] = path.read_text()
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ""}, "data": data}


def _configmap_hash(data: dict[str, str]) -> str:
    """kustomize's hash suffix: SHA-256 of Go's JSON of {data, kind, name}, 10 characters
    with some letters swapped. kustomize 5 hashes the generated object before it has a
    name: ``name`` is always empty there."""
    encoded = json.dumps(
        {"data": data, "kind": "ConfigMap", "name": ""},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        encoded = encoded.replace(char, escaped)  # Go's json.Marshal escapes HTML
    encoded = encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def _rename_configmap_references(node: Any, renames: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if (
                key in CONFIGMAP_REFERENCES
                and isinstance(value, dict)
                and value.get("name") in renames
            ):
                value["name"] = renames[value["name"]]
            _rename_configmap_references(value, renames)
    elif isinstance(node, list):
        for item in node:
            _rename_configmap_references(item, renames)


# -- patches -----------------------------------------------------------------------------


def _apply_patch(root: Path, objects: list[Obj], spec: Obj) -> None:
    if set(spec) - {"patch", "path", "target"}:
        raise Unsupported(f"{root}: patch fields {sorted(spec)}")
    body = yaml.safe_load(spec["patch"] if "patch" in spec else (root / spec["path"]).read_text())
    target = spec.get("target")
    if isinstance(body, list):  # JSON 6902
        if not target:
            raise Unsupported(f"{root}: a JSON 6902 patch needs a target")
        matched = [obj for obj in objects if _matches(obj, target)]
        for obj in matched:
            for operation in body:
                _json6902(obj, operation)
    else:  # strategic merge
        target = target or {"kind": body["kind"], "name": re.escape(body["metadata"]["name"])}
        matched = [obj for obj in objects if _matches(obj, target)]
        for obj in matched:
            patch = copy.deepcopy(body)
            if "target" in spec:  # the patch's own name does not rename its targets
                patch.get("metadata", {}).pop("name", None)
            _merge(obj, patch)
    if not matched:
        raise Unsupported(f"{root}: patch target {target} matches nothing")


def _matches(obj: Obj, target: Obj) -> bool:
    if set(target) - {"kind", "name", "group", "version", "namespace"}:
        raise Unsupported(f"patch target fields {sorted(target)}")
    group, _, version = obj["apiVersion"].rpartition("/")
    meta = obj.get("metadata", {})
    checks = [
        ("kind", obj["kind"]),
        ("group", group),
        ("version", version),
        ("namespace", meta.get("namespace", "")),
    ]
    if any(key in target and target[key] != value for key, value in checks):
        return False
    return "name" not in target or re.fullmatch(target["name"], meta["name"]) is not None


def _merge(base: Obj, patch: Obj) -> None:
    for key, value in patch.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        elif isinstance(value, list) and isinstance(base.get(key), list) and _named(value):
            by_name = {item["name"]: item for item in base[key] if isinstance(item, dict)}
            for item in value:
                if item["name"] in by_name:
                    _merge(by_name[item["name"]], item)
                else:
                    base[key].append(copy.deepcopy(item))
        else:
            base[key] = copy.deepcopy(value)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def _json6902(obj: Obj, operation: Obj) -> None:
    op, path = operation["op"], operation["path"]
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]
    if not tokens:
        raise Unsupported(f"JSON patch of the whole object: {operation}")
    parent: Any = obj
    for token in tokens[:-1]:
        parent = parent[int(token)] if isinstance(parent, list) else parent[token]
    last = tokens[-1]
    if op == "test":
        current = parent[int(last)] if isinstance(parent, list) else parent[last]
        if current != operation["value"]:
            raise AssertionError(f"JSON patch test failed: {path} is {current!r}")
    elif op == "remove":
        del parent[int(last) if isinstance(parent, list) else last]
    elif op in ("add", "replace"):
        value = copy.deepcopy(operation["value"])
        if isinstance(parent, list):
            if last == "-":
                parent.append(value)
            elif op == "add":
                parent.insert(int(last), value)
            else:
                parent[int(last)] = value
        else:
            if op == "replace" and last not in parent:
                raise KeyError(f"JSON patch replace of a missing {path}")
            parent[last] = value
    else:
        raise Unsupported(f"JSON patch operation {op!r}")


# -- images ------------------------------------------------------------------------------


def _set_images(node: Any, image: Obj) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    if isinstance(container, dict) and "image" in container:
                        container["image"] = _new_image(container["image"], image)
            _set_images(value, image)
    elif isinstance(node, list):
        for item in node:
            _set_images(item, image)


def _new_image(current: str, image: Obj) -> str:
    name, tag = current, ""
    if "@" in name:
        name, _, digest = name.partition("@")
        tag = "@" + digest
    elif ":" in name.rsplit("/", 1)[-1]:
        name, _, plain = name.rpartition(":")
        tag = ":" + plain
    if name != image["name"]:
        return current
    if "digest" in image:
        tag = "@" + image["digest"]
    elif "newTag" in image:
        tag = ":" + str(image["newTag"])
    return image.get("newName", name) + tag

"""The Kubernetes manifests under deploy/k8s: render every kustomization, validate, check policy.

Each overlay (and each base) is rendered with ``kubectl kustomize`` exactly as an operator
would, then every document of a built-in Kubernetes kind is validated with
``kubernetes_validate`` in strict mode (unknown fields rejected) against the pinned Kubernetes
version. kubernetes-validate has no schema for custom resources, so the operator CRDs we use
(RabbitmqCluster, CloudNativePG Cluster) are skipped there *explicitly* and checked by the
required-key checks below instead; any other kind without a schema is an error, never a skip.
On top of the schemas the tests assert what matters for running the registry: probes,
resources, non-root pods, migration Jobs, NetworkPolicies, placeholder-only Secrets, one
namespace per overlay, labels, and the federation fragment each namespace hosts.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]

from devtools import alert_rules
from shared.federation.config import Instance, load_federation
from shared.messaging.keys import load_trust_file, speaks_for
from shared.rules import load_province_rules

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"

# The Kubernetes minor version the manifests must be valid for (kubernetes-validate bundles
# schemas 1.25 and later; it validates against the newest schema not newer than this).
KUBERNETES_VERSION = "1.30"

KUBECTL = shutil.which("kubectl") or (
    "/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None
)

OVERLAYS = sorted(
    p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file()
)
PROVINCE_OVERLAYS = [name for name in OVERLAYS if name.startswith("province-")]
BASES = sorted(p.name for p in (K8S / "base").iterdir() if (p / "kustomization.yaml").is_file())

TIERS = ("national", "province", "county", "school")
PLACEHOLDER = "CHANGE-ME"
PROVINCE_LABEL = "xueji.gov.cn/province"

# What each province namespace hosts (the brief's example units).
HOSTED_UNITS = {
    "41": {
        "province": ["41"],
        "county": ["410102", "410105"],
        "school": ["4101020001", "4101020002", "4101050001"],
    },
    "33": {
        "province": ["33"],
        "county": ["330102", "330106"],
        "school": ["3301020001", "3301060001"],
    },
    "51": {
        "province": ["51"],
        "county": ["513401", "510104"],
        "school": ["5134010001", "5134010003", "5134010004", "5101040001"],
    },
}

CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "CustomResourceDefinition",
    "PriorityClass",
}


# --- custom resources: kubernetes-validate has no schema for them -------------------------------

RABBITMQ_SPEC_KEYS = {
    "replicas",
    "image",
    "imagePullSecrets",
    "service",
    "persistence",
    "resources",
    "affinity",
    "tolerations",
    "rabbitmq",
    "tls",
    "override",
    "terminationGracePeriodSeconds",
    "skipPostDeploySteps",
    "delayStartSeconds",
    "secretBackend",
    "autoEnableAllFeatureFlags",
}
CNPG_SPEC_KEYS = {
    "instances",
    "imageName",
    "imageCatalogRef",
    "primaryUpdateStrategy",
    "primaryUpdateMethod",
    "inheritedMetadata",
    "bootstrap",
    "postgresql",
    "storage",
    "walStorage",
    "resources",
    "affinity",
    "backup",
    "monitoring",
    "superuserSecret",
    "enableSuperuserAccess",
    "description",
    "minSyncReplicas",
    "maxSyncReplicas",
    "managed",
    "replica",
    "externalClusters",
    "startDelay",
    "stopDelay",
    "switchoverDelay",
    "failoverDelay",
    "priorityClassName",
    "topologySpreadConstraints",
    "certificates",
    "enablePDB",
    "env",
    "envFrom",
    "logLevel",
    "nodeMaintenanceWindow",
    "imagePullSecrets",
    "serviceAccountTemplate",
    "projectedVolumeTemplate",
    "smartShutdownTimeout",
    "ephemeralVolumeSource",
    "ephemeralVolumesSizeLimit",
    "plugins",
    "tablespaces",
    "seccompProfile",
    "probes",
    "podSecurityContext",
    "securityContext",
}


def _unknown_keys(spec: dict[str, Any], known: set[str]) -> list[str]:
    return [f"spec.{key}: not a known field" for key in sorted(set(spec) - known)]


def check_rabbitmq_cluster(doc: dict[str, Any]) -> list[str]:
    """rabbitmq.com/v1beta1 RabbitmqCluster: 3 replicas, quorum queues by default."""
    spec = doc.get("spec") or {}
    errors = _unknown_keys(spec, RABBITMQ_SPEC_KEYS)
    if spec.get("replicas") != 3:
        errors.append(f"spec.replicas must be 3, got {spec.get('replicas')!r}")
    config = (spec.get("rabbitmq") or {}).get("additionalConfig") or ""
    if not re.search(r"^\s*default_queue_type\s*=\s*quorum\s*$", config, re.MULTILINE):
        errors.append("spec.rabbitmq.additionalConfig must set default_queue_type = quorum")
    if not (spec.get("persistence") or {}).get("storage"):
        errors.append("spec.persistence.storage is required")
    return errors


def check_cnpg_cluster(doc: dict[str, Any]) -> list[str]:
    """postgresql.cnpg.io/v1 Cluster: instances, storage and an initdb owner with its secret."""
    spec = doc.get("spec") or {}
    errors = _unknown_keys(spec, CNPG_SPEC_KEYS)
    instances = spec.get("instances")
    if not isinstance(instances, int) or instances < 1:
        errors.append(f"spec.instances must be a positive integer, got {instances!r}")
    if not (spec.get("storage") or {}).get("size"):
        errors.append("spec.storage.size is required")
    initdb = (spec.get("bootstrap") or {}).get("initdb") or {}
    for key in ("database", "owner"):
        if not initdb.get(key):
            errors.append(f"spec.bootstrap.initdb.{key} is required")
    if not (initdb.get("secret") or {}).get("name"):
        errors.append("spec.bootstrap.initdb.secret.name is required")
    store = (spec.get("backup") or {}).get("barmanObjectStore") or {}
    if not store.get("destinationPath"):
        errors.append("spec.backup.barmanObjectStore.destinationPath is required (decision 0031)")
    credentials = store.get("s3Credentials") or {}
    for key in ("accessKeyId", "secretAccessKey"):
        if not (credentials.get(key) or {}).get("name"):
            errors.append(f"spec.backup.barmanObjectStore.s3Credentials.{key} must name a Secret")
    return errors


CNPG_SCHEDULED_BACKUP_KEYS = {
    "schedule", "cluster", "backupOwnerReference", "method", "immediate", "suspend", "target",
    "online", "onlineConfiguration", "pluginConfiguration",
}  # fmt: skip


def check_cnpg_scheduled_backup(doc: dict[str, Any]) -> list[str]:
    """postgresql.cnpg.io/v1 ScheduledBackup: a six-field schedule (seconds first) of a cluster."""
    spec = doc.get("spec") or {}
    errors = _unknown_keys(spec, CNPG_SCHEDULED_BACKUP_KEYS)
    if len(str(spec.get("schedule") or "").split()) != 6:
        errors.append(f"spec.schedule must have six fields, got {spec.get('schedule')!r}")
    if not (spec.get("cluster") or {}).get("name"):
        errors.append("spec.cluster.name is required")
    return errors


def _topology_object(
    doc: dict[str, Any], known: set[str], required: dict[str, set[str]]
) -> list[str]:
    """A Messaging Topology Operator object: its spec keys, the cluster it refers to, and the
    keys each nested object needs."""
    spec = doc.get("spec") or {}
    errors = _unknown_keys(spec, known | {"rabbitmqClusterReference"})
    if not (spec.get("rabbitmqClusterReference") or {}).get("name"):
        errors.append("spec.rabbitmqClusterReference.name is required")
    for key, nested in required.items():
        value = spec.get(key) if key else spec
        if not isinstance(value, dict):
            errors.append(f"spec.{key} is required")
            continue
        errors += [f"spec.{key}.{n} is required".replace("..", ".") for n in nested - set(value)]
    return errors


def check_broker_user(doc: dict[str, Any]) -> list[str]:
    """rabbitmq.com/v1beta1 User: credentials from a Secret, never inline; no admin tags."""
    errors = _topology_object(
        doc, {"tags", "importCredentialsSecret"}, {"importCredentialsSecret": {"name"}}
    )
    if (doc.get("spec") or {}).get("tags"):
        errors.append("spec.tags must be empty: an instance's user is no administrator")
    return errors


def check_broker_permission(doc: dict[str, Any]) -> list[str]:
    return _topology_object(
        doc,
        {"vhost", "user", "userReference", "permissions"},
        {"": {"vhost", "userReference"}, "permissions": {"configure", "write", "read"}},
    )


def check_broker_topic_permission(doc: dict[str, Any]) -> list[str]:
    return _topology_object(
        doc,
        {"vhost", "user", "userReference", "permissions"},
        {"": {"vhost", "userReference"}, "permissions": {"exchange", "write", "read"}},
    )


def check_broker_exchange(doc: dict[str, Any]) -> list[str]:
    return _topology_object(
        doc,
        {"name", "vhost", "type", "durable", "autoDelete", "arguments"},
        {"": {"name", "vhost", "type", "durable"}},
    )


def check_broker_queue(doc: dict[str, Any]) -> list[str]:
    return _topology_object(
        doc,
        {"name", "vhost", "type", "durable", "autoDelete", "exclusive", "arguments"},
        {"": {"name", "vhost", "type", "durable"}},
    )


def check_broker_binding(doc: dict[str, Any]) -> list[str]:
    return _topology_object(
        doc,
        {"vhost", "source", "destination", "destinationType", "routingKey", "arguments"},
        {"": {"vhost", "source", "destination", "destinationType"}},
    )


def check_prometheus_rule(doc: dict[str, Any]) -> list[str]:
    """monitoring.coreos.com/v1 PrometheusRule: groups of named rules, each an alert or a
    record with an expression (promtool checks the expressions: tests/ops)."""
    spec = doc.get("spec") or {}
    errors = _unknown_keys(spec, {"groups"})
    groups = spec.get("groups")
    if not isinstance(groups, list) or not groups:
        return [*errors, "spec.groups is required"]
    for group in groups:
        errors += [
            f"spec.groups[{group.get('name')}].{k}: not a known field"
            for k in sorted(set(group) - {"name", "interval", "rules", "limit"})
        ]
        for rule in group.get("rules") or []:
            if not rule.get("expr") or ("alert" in rule) == ("record" in rule):
                errors.append(f"spec.groups[{group.get('name')}]: a rule without expr or name")
    return errors


def check_service_monitor(doc: dict[str, Any]) -> list[str]:
    """monitoring.coreos.com/v1 ServiceMonitor: a selector and endpoints with a port."""
    spec = doc.get("spec") or {}
    known = {"selector", "namespaceSelector", "endpoints", "jobLabel", "targetLabels"}
    errors = _unknown_keys(spec, known)
    if not spec.get("selector"):
        errors.append("spec.selector is required")
    endpoints = spec.get("endpoints") or []
    if not endpoints or not all(e.get("port") for e in endpoints):
        errors.append("spec.endpoints need a port each")
    return errors


CUSTOM_RESOURCES: dict[tuple[str, str], Callable[[dict[str, Any]], list[str]]] = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): check_rabbitmq_cluster,
    ("postgresql.cnpg.io/v1", "Cluster"): check_cnpg_cluster,
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): check_cnpg_scheduled_backup,
    ("rabbitmq.com/v1beta1", "User"): check_broker_user,
    ("rabbitmq.com/v1beta1", "Permission"): check_broker_permission,
    ("rabbitmq.com/v1beta1", "TopicPermission"): check_broker_topic_permission,
    ("rabbitmq.com/v1beta1", "Exchange"): check_broker_exchange,
    ("rabbitmq.com/v1beta1", "Queue"): check_broker_queue,
    ("rabbitmq.com/v1beta1", "Binding"): check_broker_binding,
    ("monitoring.coreos.com/v1", "PrometheusRule"): check_prometheus_rule,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): check_service_monitor,
}


def is_custom_resource(doc: dict[str, Any]) -> bool:
    return (doc.get("apiVersion"), doc.get("kind")) in CUSTOM_RESOURCES


def validation_errors(docs: list[dict[str, Any]]) -> list[str]:
    """Strict schema errors of built-in kinds plus required-key errors of our custom resources."""
    errors: list[str] = []
    for doc in docs:
        where = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        if not (doc.get("metadata") or {}).get("name"):
            errors.append(f"{where}: metadata.name is required")
        check = CUSTOM_RESOURCES.get((str(doc.get("apiVersion")), str(doc.get("kind"))))
        if check is not None:  # a CRD: kubernetes-validate has no schema, skipped on purpose
            errors += [f"{where}: {message}" for message in check(doc)]
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            errors.append(f"{where}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{where}: {exc.message}; not a custom resource this test checks either")
    return errors


# --- rendering ---------------------------------------------------------------------------------


@functools.cache
def _kustomize(directory: str) -> str:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, "kustomize", directory], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return result.stdout


def render(directory: Path) -> list[dict[str, Any]]:
    """The documents `kubectl kustomize DIR` renders (a fresh copy per call)."""
    if KUBECTL is None:
        pytest.skip("kubectl is not installed, so the kustomizations cannot be rendered")
    return [doc for doc in yaml.safe_load_all(_kustomize(str(directory))) if doc]


def overlay(name: str) -> list[dict[str, Any]]:
    return render(K8S / "overlays" / name)


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """A rendered object by kind and name; generated names carry a hash suffix."""
    found = [
        doc
        for doc in of_kind(docs, kind)
        if re.fullmatch(rf"{re.escape(name)}(-[a-z0-9]{{10}})?", doc["metadata"]["name"])
    ]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def workloads(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (doc for doc in docs if doc["kind"] in {"Deployment", "Job", "StatefulSet"})


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def labels_of(doc: dict[str, Any]) -> dict[str, str]:
    return dict((doc.get("metadata") or {}).get("labels") or {})


def secret_values(secret: dict[str, Any]) -> dict[str, str]:
    values = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    values.update(secret.get("stringData") or {})
    return values


def province_code(overlay_name: str) -> str:
    return overlay_name.removeprefix("province-")


def tier_deployments(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tier services' Deployments (the console, stateless, has its own checks)."""
    deployments = of_kind(docs, "Deployment")
    components = {labels_of(d)["app.kubernetes.io/component"] for d in deployments}
    assert components <= {*TIERS, "console"}, components
    return [d for d in deployments if labels_of(d)["app.kubernetes.io/component"] != "console"]


def tier_of(deployment: dict[str, Any]) -> str:
    tier = labels_of(deployment)["app.kubernetes.io/component"]
    assert tier in TIERS
    return tier


# --- schema validation -------------------------------------------------------------------------


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_validates_strictly(name: str) -> None:
    docs = overlay(name)
    assert docs, f"overlay {name} rendered nothing"
    assert validation_errors(docs) == []


@pytest.mark.parametrize("name", BASES)
def test_base_validates_strictly(name: str) -> None:
    assert validation_errors(render(K8S / "base" / name)) == []


def test_rabbitmq_statefulset_alternative_validates_fully() -> None:
    docs = render(K8S / "base" / "rabbitmq-statefulset")
    assert not [doc for doc in docs if is_custom_resource(doc)], "no CRD may be needed here"
    assert validation_errors(docs) == []
    statefulset = named(docs, "StatefulSet", "xueji-rabbitmq")
    assert statefulset["spec"]["replicas"] == 3
    headless = named(docs, "Service", statefulset["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    config = named(docs, "ConfigMap", "xueji-rabbitmq-config")["data"]
    assert (
        "cluster_formation.peer_discovery_backend = rabbit_peer_discovery_k8s"
        in config["rabbitmq.conf"]
    )
    assert re.search(r"^default_queue_type = quorum$", config["rabbitmq.conf"], re.MULTILINE)
    assert "rabbitmq_peer_discovery_k8s" in config["enabled_plugins"]
    cookie = [v for v in pod_spec(statefulset)["volumes"] if "secret" in v]
    assert [v["secret"]["secretName"] for v in cookie] == ["xueji-rabbitmq-erlang-cookie"]
    assert named(docs, "Service", "xueji-rabbitmq")["spec"]["ports"][0]["port"] == 5672


# --- the deliberately broken manifests must fail -----------------------------------------------

BAD_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: broken}
  template:
    metadata:
      labels: {app.kubernetes.io/name: broken}
    spec:
      containers:
        - name: broken
          image: xueji:0.1.0
          livenessProbe:
            httpGet: {path: /healthz, port: 8000}
            periodSecond: 10          # typo: periodSeconds
"""


def test_unknown_field_in_a_deployment_fails_validation() -> None:
    errors = validation_errors([yaml.safe_load(BAD_DEPLOYMENT)])
    assert len(errors) == 1
    assert "periodSecond" in errors[0]


def test_unknown_field_fails_through_kustomize(tmp_path: Path) -> None:
    (tmp_path / "deployment.yaml").write_text(BAD_DEPLOYMENT)
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - deployment.yaml\n")
    errors = validation_errors(render(tmp_path))
    assert errors and "periodSecond" in errors[0]


def test_a_kind_without_schema_is_an_error_not_a_skip() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert "not a custom resource this test checks" in validation_errors([widget])[0]


def test_custom_resource_checks_catch_missing_keys() -> None:
    rabbit = {
        "apiVersion": "rabbitmq.com/v1beta1",
        "kind": "RabbitmqCluster",
        "metadata": {"name": "r"},
        "spec": {"replicas": 1, "replica": 3},
    }
    cnpg = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "c"},
        "spec": {"instances": 2},
    }
    errors = "\n".join(validation_errors([rabbit, cnpg]))
    for expected in (
        "spec.replica: not a known field",
        "spec.replicas must be 3",
        "default_queue_type",
        "spec.persistence.storage",
        "spec.storage.size",
        "initdb.database",
        "initdb.owner",
        "initdb.secret.name",
        "barmanObjectStore.destinationPath",
        "s3Credentials.accessKeyId",
    ):
        assert expected in errors


# --- namespaces and labels ---------------------------------------------------------------------


def expected_namespaces(name: str) -> set[str]:
    if name == "national":
        return {"xueji-national", "xueji-broker"}
    return {f"xueji-{province_code(name)}"}


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_renders_its_own_namespace(name: str) -> None:
    docs = overlay(name)
    namespaces = {doc["metadata"]["name"] for doc in of_kind(docs, "Namespace")}
    assert namespaces == expected_namespaces(name)
    for doc in docs:
        if doc["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in doc["metadata"], doc["metadata"]["name"]
        else:
            assert doc["metadata"].get("namespace") in namespaces, (
                f"{doc['kind']}/{doc['metadata']['name']} is outside the overlay's namespaces"
            )
    for namespace in of_kind(docs, "Namespace"):
        assert labels_of(namespace)["pod-security.kubernetes.io/enforce"] in {
            "restricted",
            "baseline",
        }


@pytest.mark.parametrize("name", OVERLAYS)
def test_everything_is_labelled(name: str) -> None:
    docs = overlay(name)
    province = province_code(name) if name in PROVINCE_OVERLAYS else None
    templates = [
        (f"{w['kind']}/{w['metadata']['name']} pods", w["spec"]["template"]["metadata"])
        for w in workloads(docs)
    ]
    objects = [(f"{d['kind']}/{d['metadata']['name']}", d["metadata"]) for d in docs]
    for where, metadata in objects + templates:
        labels = metadata.get("labels") or {}
        assert labels.get("app.kubernetes.io/name"), where
        assert labels.get("app.kubernetes.io/component"), where
        assert labels.get("app.kubernetes.io/part-of") == "xueji", where
        if province:
            assert labels.get(PROVINCE_LABEL) == province, where
    for cluster in of_kind(docs, "Cluster"):
        inherited = cluster["spec"]["inheritedMetadata"]["labels"]
        assert inherited["app.kubernetes.io/part-of"] == "xueji"
        assert inherited["app.kubernetes.io/component"] == "database"
        if province:
            assert inherited[PROVINCE_LABEL] == province


# --- the services: Deployments and their migration Jobs ----------------------------------------


def env_names(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def assert_resourced_and_locked_down(container: dict[str, Any]) -> None:
    """Requests and limits of CPU and memory; non-root, read-only root, no privilege, no
    capability."""
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) >= {"cpu", "memory"}, bound
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("name", OVERLAYS)
def test_deployments_are_probed_resourced_and_non_root(name: str) -> None:
    deployments = tier_deployments(overlay(name))
    assert deployments
    for deployment in deployments:
        tier = tier_of(deployment)
        spec = pod_spec(deployment)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        (container,) = spec["containers"]
        assert container["command"] == [
            "python",
            "-m",
            f"services.{tier}",
            "--config",
            "/etc/xueji/federation.toml",
            "--instance",
            "$(XUEJI_INSTANCE)",
        ]
        assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert_resourced_and_locked_down(container)
        env = env_names(container)
        assert env["XUEJI_ENV"]["value"] == "production"
        assert env["XUEJI_FEDERATION_CONFIG"]["value"] == "/etc/xueji/federation.toml"
        assert env["XUEJI_AUTO_MIGRATE"]["value"] == "false", "the migration Job migrates"
        # no request waits for the audit chain's head on PostgreSQL (decision 0048)
        assert env["XUEJI_AUDIT_CHAINING"]["value"] == "deferred"
        for variable, key in (
            ("XUEJI_DATABASE_URL", "database-url"),
            ("XUEJI_AMQP_URL", "amqp-url"),
            ("XUEJI_AUDIT_KEY", "audit-key"),
        ):
            reference = env[variable]["valueFrom"]["secretKeyRef"]
            assert reference["key"] == key
        # tokens are signed with the instance's signing key (decision 0027): no shared secret
        assert not [name for name in env if "JWT" in name]
        assert env["XUEJI_INSTANCE"]["valueFrom"]["configMapKeyRef"]["key"] == tier


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_deployment_has_service_pdb_and_migration_job(name: str) -> None:
    docs = overlay(name)
    for deployment in tier_deployments(docs):
        tier = tier_of(deployment)
        selector = deployment["spec"]["selector"]["matchLabels"]
        service = named(docs, "Service", f"xueji-{tier}")
        assert service["spec"]["selector"] == selector
        assert service["spec"]["ports"] == [
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
        ]
        pdb = named(docs, "PodDisruptionBudget", f"xueji-{tier}")
        assert pdb["spec"]["selector"]["matchLabels"] == selector
        job = named(docs, "Job", f"xueji-{tier}-migrate")
        (migrate,) = pod_spec(job)["containers"]
        (serve,) = pod_spec(deployment)["containers"]
        assert migrate["command"] == ["python", "-m", "shared.db.migrate", "--tier", tier]
        # the Job never holds the signing key (it sends no message), the audit key and the
        # chaining mode (it writes no audit entry) nor the forwarded-IPs setting (it serves no
        # request)
        service_only = {
            "XUEJI_AUTO_MIGRATE",
            "XUEJI_AUDIT_KEY",
            "XUEJI_AUDIT_CHAINING",
            "XUEJI_HTTP_FORWARDED_ALLOW_IPS",
            *SIGNING_ENV,
        }
        assert migrate["env"] == [e for e in serve["env"] if e["name"] not in service_only], (
            "the migration Job needs the service's environment"
        )
        assert migrate["image"] == serve["image"]
        signing_volumes = {"signing-key", "trusted-keys"}
        assert pod_spec(job)["volumes"] == [
            v for v in pod_spec(deployment)["volumes"] if v["name"] not in signing_volumes
        ]
        assert pod_spec(job)["securityContext"]["runAsNonRoot"] is True
        # The two-pass apply of the README selects the Deployments out of the first pass.
        assert labels_of(deployment)["xueji.gov.cn/starts-after"] == "migration"
        assert "xueji.gov.cn/starts-after" not in labels_of(job)


@pytest.mark.parametrize("name", OVERLAYS)
def test_references_resolve_within_the_namespace(name: str) -> None:
    docs = overlay(name)
    present = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs}

    def data_keys(kind: str, namespace: str, ref_name: str) -> set[str]:
        found = present.get((kind, namespace, ref_name))
        assert found is not None, f"{kind} {ref_name} is referenced but not rendered in {namespace}"
        return set(found.get("data") or {})

    for workload in workloads(docs):
        namespace = workload["metadata"]["namespace"]
        spec = pod_spec(workload)
        for container in spec["containers"] + spec.get("initContainers", []):
            for entry in container.get("env", []):
                source = entry.get("valueFrom") or {}
                for kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if field in source:
                        ref = source[field]
                        assert ref["key"] in data_keys(kind, namespace, ref["name"])
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                keys = data_keys("ConfigMap", namespace, volume["configMap"]["name"])
                assert {item["key"] for item in volume["configMap"].get("items", [])} <= keys
    for cluster in of_kind(docs, "Cluster"):
        namespace = cluster["metadata"]["namespace"]
        initdb = cluster["spec"]["bootstrap"]["initdb"]
        secret = present[("Secret", namespace, initdb["secret"]["name"])]
        assert secret["type"] == "kubernetes.io/basic-auth"
        assert secret_values(secret)["username"] == initdb["owner"]


@pytest.mark.parametrize("name", OVERLAYS)
def test_secrets_hold_only_placeholders(name: str) -> None:
    secrets = of_kind(overlay(name), "Secret")
    assert secrets
    for secret in secrets:
        for key, value in secret_values(secret).items():
            if secret.get("type") == "kubernetes.io/basic-auth" and key == "username":
                continue  # a role name, not a credential
            assert PLACEHOLDER in value, (
                f"Secret {secret['metadata']['name']} key {key} holds something other than the "
                f"{PLACEHOLDER} placeholder: real credentials come from sealed/external secrets"
            )


# --- configuration: federation fragment and province rules -------------------------------------


def config_map_data(docs: list[dict[str, Any]], name: str) -> dict[str, str]:
    data: dict[str, str] = named(docs, "ConfigMap", name)["data"]
    return data


@pytest.mark.parametrize("name", OVERLAYS)
def test_config_volume_holds_federation_and_province_rules(name: str) -> None:
    docs = overlay(name)
    province = province_code(name) if name in PROVINCE_OVERLAYS else None
    expected_items = [{"key": "federation.toml", "path": "federation.toml"}]
    if province:
        expected_items.append({"key": f"{province}.toml", "path": f"provinces/{province}.toml"})
    for workload in workloads(docs):
        spec = pod_spec(workload)
        (config,) = [v for v in spec["volumes"] if v["name"] == "config"]
        assert config["configMap"]["items"] == expected_items
        (container,) = spec["containers"]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["config"]["mountPath"] == "/etc/xueji"
        assert mounts["config"]["readOnly"] is True


@pytest.mark.parametrize("name", PROVINCE_OVERLAYS)
def test_province_rules_match_the_projects_rules_file(name: str, tmp_path: Path) -> None:
    code = province_code(name)
    mounted = config_map_data(overlay(name), "xueji-config")[f"{code}.toml"]
    source = REPO / "config" / "provinces" / f"{code}.toml"
    if source.exists():
        assert tomllib.loads(mounted) == tomllib.loads(source.read_text(encoding="utf-8")), (
            f"{name}/provinces/{code}.toml differs from config/provinces/{code}.toml"
        )
    (tmp_path / "provinces").mkdir()
    (tmp_path / "provinces" / f"{code}.toml").write_text(mounted, encoding="utf-8")
    loaded = load_province_rules(tmp_path / "federation.toml", code)
    assert loaded.code == code


@pytest.mark.parametrize("name", OVERLAYS)
def test_federation_fragment_names_the_hosted_units(name: str) -> None:
    docs = overlay(name)
    federation = tomllib.loads(config_map_data(docs, "xueji-config")["federation.toml"])
    instances = {entry["name"]: entry for entry in federation["instance"]}
    chosen = config_map_data(docs, "xueji-instances")
    for deployment in tier_deployments(docs):
        tier = tier_of(deployment)
        instance = instances[chosen[tier]]
        assert instance["tier"] == tier
        assert (instance["host"], instance["port"]) == ("0.0.0.0", 8000)
        if name in PROVINCE_OVERLAYS:
            code = province_code(name)
            assert code in HOSTED_UNITS, f"add province {code}'s hosted units to HOSTED_UNITS"
            assert instance["units"] == HOSTED_UNITS[code][tier]
        else:
            assert instance["units"] == ["CN"]
    if name in PROVINCE_OVERLAYS:
        assert instances["national"]["host"] == "xueji-national.xueji-national.svc.cluster.local"


@pytest.mark.parametrize("name", OVERLAYS)
def test_federation_fragment_loads_with_the_services_loader(name: str, tmp_path: Path) -> None:
    docs = overlay(name)
    path = tmp_path / "federation.toml"
    path.write_text(config_map_data(docs, "xueji-config")["federation.toml"], encoding="utf-8")
    federation = load_federation(path)
    for key, instance_name in config_map_data(docs, "xueji-instances").items():
        if key != "console-instance-urls":
            federation.instance(instance_name)


# --- a country's school directory (decision 0058) ---------------------------------------------

DIRECTORY_MOUNT = "/var/lib/xueji/directory"
DIRECTORY_IMAGE = "registry.example/xueji-school-directory:2026-09-01"


def with_the_school_directory(tmp_path: Path, name: str) -> list[dict[str, Any]]:
    """Overlay ``name`` with the school-directory component and an export's tag, as a country's
    overlay adds them."""
    here = tmp_path / "country"
    here.mkdir()
    k8s = Path(os.path.relpath(K8S, here))
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [str(k8s / "overlays" / name)],
        "components": [str(k8s / "components" / "school-directory")],
        "images": [
            {
                "name": "xueji-school-directory",
                "newName": DIRECTORY_IMAGE.rsplit(":", 1)[0],
                "newTag": DIRECTORY_IMAGE.rsplit(":", 1)[1],
            }
        ],
    }
    (here / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")
    return render(here)


@pytest.mark.parametrize("name", ["national", PROVINCE_OVERLAYS[0]])
def test_a_countrys_school_directory_reaches_every_service_from_its_image(
    name: str, tmp_path: Path
) -> None:
    docs = with_the_school_directory(tmp_path, name)
    assert validation_errors(docs) == []
    services = [
        d
        for d in of_kind(docs, "Deployment")
        if labels_of(d).get("app.kubernetes.io/component") in {*TIERS, "console"}
    ]
    assert {labels_of(d)["app.kubernetes.io/component"] for d in services} == (
        {"national"} if name == "national" else {"province", "county", "school", "console"}
    )
    for deployment in services:
        spec = pod_spec(deployment)
        (copy,) = spec["initContainers"]
        assert copy["image"] == DIRECTORY_IMAGE
        assert copy["command"] == ["cp", "/directory/schools.csv", f"{DIRECTORY_MOUNT}/schools.csv"]
        assert copy["volumeMounts"] == [{"name": "school-directory", "mountPath": DIRECTORY_MOUNT}]
        assert_resourced_and_locked_down(copy)
        (volume,) = [v for v in spec["volumes"] if v["name"] == "school-directory"]
        assert set(volume) == {"name", "emptyDir"}
        service = spec["containers"][0]
        mounts = {m["name"]: m for m in service["volumeMounts"]}
        assert mounts["school-directory"] == {
            "name": "school-directory",
            "mountPath": DIRECTORY_MOUNT,
            "readOnly": True,
        }
        assert mounts["config"]["mountPath"] == "/etc/xueji"  # the file's own mount is kept
    # the migration Jobs do not read the federation file; other workloads are left alone
    for workload in workloads(docs):
        if workload not in services:
            names = [c["name"] for c in pod_spec(workload).get("initContainers", [])]
            assert "school-directory" not in names, workload["metadata"]["name"]


# --- message signing keys ----------------------------------------------------------------------

SIGNING_ENV = {
    "XUEJI_SIGNING_KEY_FILE": "/etc/xueji-signing/signing.key",
    "XUEJI_TRUSTED_KEYS_FILE": "/etc/xueji-trust/trusted-keys.toml",
}


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_service_mounts_its_signing_key_and_the_trusted_keys(name: str) -> None:
    """Its own tier's private key from a Secret, every public key from the shared ConfigMap."""
    docs = overlay(name)
    for deployment in tier_deployments(docs):
        tier = tier_of(deployment)
        spec = pod_spec(deployment)
        [container] = spec["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert {k: env.get(k) for k in SIGNING_ENV} == SIGNING_ENV
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        key_volume = volumes[mounts["/etc/xueji-signing"]["name"]]
        trust_volume = volumes[mounts["/etc/xueji-trust"]["name"]]
        assert mounts["/etc/xueji-signing"]["readOnly"] and mounts["/etc/xueji-trust"]["readOnly"]
        secret = named(docs, "Secret", f"xueji-{tier}-signing-key")
        assert key_volume["secret"]["secretName"] == secret["metadata"]["name"]
        assert key_volume["secret"]["defaultMode"] & 0o007 == 0  # never world-readable
        assert set(secret_values(secret)) == {"signing.key"}
        config_map = named(docs, "ConfigMap", "xueji-trusted-keys")
        assert trust_volume["configMap"]["name"] == config_map["metadata"]["name"]


def test_every_namespace_trusts_the_same_keys_for_every_instance_and_its_units() -> None:
    """One trust file everywhere, an entry per instance of every overlay with its units."""
    files = {
        name: config_map_data(overlay(name), "xueji-trusted-keys")["trusted-keys.toml"]
        for name in OVERLAYS
    }
    assert len(set(files.values())) == 1, "overlays mount different trusted-keys.toml files"
    entries = {e["id"]: e for e in tomllib.loads(next(iter(files.values())))["key"]}
    for name in OVERLAYS:
        docs = overlay(name)
        federation = tomllib.loads(config_map_data(docs, "xueji-config")["federation.toml"])
        for instance in federation["instance"]:
            entry = entries.get(instance["name"])
            assert entry is not None, f"{instance['name']} has no trusted key"
            units, areas = speaks_for(Instance.model_validate(instance))  # areas: 0053
            assert (
                entry["instance"],
                entry["tier"],
                entry.get("units", []),
                entry.get("areas", []),
            ) == (
                instance["name"],
                instance["tier"],
                list(units),
                list(areas),
            ), f"trusted key of {instance['name']} speaks for other units than {name} hosts"
    assert all(e["public_key"] == PLACEHOLDER for e in entries.values())


def test_a_placeholder_trust_file_stops_the_service_at_start(tmp_path: Path) -> None:
    path = tmp_path / "trusted-keys.toml"
    trust_file = config_map_data(overlay(OVERLAYS[0]), "xueji-trusted-keys")["trusted-keys.toml"]
    path.write_text(trust_file)
    with pytest.raises(ValueError, match="bad \\[\\[key\\]\\] entry"):
        load_trust_file(path)


# --- network isolation -------------------------------------------------------------------------


def selects(policy: dict[str, Any], pod_labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(pod_labels.get(k) == v for k, v in wanted.items())


# Egress a tier's pods may have: (port, description of the peer it must be limited to).
DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
BROKER_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "xueji-broker"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "xueji-rabbitmq"}},
}
NATIONAL_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "xueji-national"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "xueji-national"}},
}


TIER_PODS = {
    "podSelector": {
        "matchExpressions": [
            {
                "key": "app.kubernetes.io/component",
                "operator": "In",
                "values": ["province", "county", "school"],
            }
        ]
    }
}


def allowed_egress(tier: str) -> list[tuple[list[dict[str, Any]], set[tuple[Any, str]]]]:
    if tier == "console":  # the tier services' APIs only: no database, no broker
        return [
            ([TIER_PODS], {(8000, "TCP")}),
            ([NATIONAL_PEER], {(8000, "TCP")}),
            ([DNS_PEER], {(53, "UDP"), (53, "TCP")}),
        ]
    own_db = {"podSelector": {"matchLabels": {"cnpg.io/cluster": f"xueji-{tier}-db"}}}
    rules = [
        ([own_db], {(5432, "TCP")}),
        ([BROKER_PEER], {(5672, "TCP")}),
        ([DNS_PEER], {(53, "UDP"), (53, "TCP")}),
    ]
    if tier != "national":
        rules.append(([NATIONAL_PEER], {(8000, "TCP")}))
    return rules


INGRESS_CONTROLLER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
}
OWN_CONSOLE = {
    "podSelector": {
        "matchLabels": {
            "app.kubernetes.io/component": "console",
            "app.kubernetes.io/part-of": "xueji",
        }
    }
}
PROMETHEUS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
XUEJI_CALLERS = {  # every province namespace's services and console, calling national
    "namespaceSelector": {"matchLabels": {"app.kubernetes.io/part-of": "xueji"}},
    "podSelector": {
        "matchExpressions": [
            {
                "key": "app.kubernetes.io/component",
                "operator": "In",
                "values": ["province", "county", "school", "console"],
            }
        ]
    },
}


def allowed_ingress(tier: str) -> list[dict[str, Any]]:
    """Who may reach a tier's http port: X-Forwarded-For is trusted from any peer, so no pod
    but these (the ingress controller, the namespace's console, Prometheus; at national also
    the other tiers and the consoles) may."""
    if tier == "console":
        peers = [INGRESS_CONTROLLER]
    else:
        peers = [INGRESS_CONTROLLER, OWN_CONSOLE, PROMETHEUS]
        if tier == "national":
            peers.append(XUEJI_CALLERS)
    return [{"from": peers, "ports": [{"port": "http", "protocol": "TCP"}]}]


def rule_shape(rule: dict[str, Any]) -> tuple[list[dict[str, Any]], set[tuple[Any, str]]]:
    return rule.get("to", []), {(p["port"], p.get("protocol", "TCP")) for p in rule["ports"]}


@pytest.mark.parametrize("name", OVERLAYS)
def test_tier_pods_are_isolated_by_network_policy(name: str) -> None:
    docs = overlay(name)
    policies = of_kind(docs, "NetworkPolicy")
    if name in PROVINCE_OVERLAYS:
        assert policies, f"province overlay {name} renders no NetworkPolicy"
    for workload in (w for w in workloads(docs) if w["kind"] in {"Deployment", "Job"}):
        pod_labels = workload["spec"]["template"]["metadata"]["labels"]
        tier = pod_labels["app.kubernetes.io/component"]
        namespace = workload["metadata"]["namespace"]
        applying = [
            p
            for p in policies
            if p["metadata"]["namespace"] == namespace and selects(p, pod_labels)
        ]
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        assert len(applying) == 1, f"{where}: expected exactly one NetworkPolicy"
        spec = applying[0]["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        assert spec["ingress"] == allowed_ingress(tier), where
        shapes = [rule_shape(rule) for rule in spec["egress"]]
        assert sorted(map(repr, shapes)) == sorted(map(repr, allowed_egress(tier))), where


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_database_accepts_only_its_own_tier(name: str) -> None:
    docs = overlay(name)
    for cluster in of_kind(docs, "Cluster"):
        db = cluster["metadata"]["name"]
        tier = db.removeprefix("xueji-").removesuffix("-db")
        policy = named(docs, "NetworkPolicy", db)
        assert policy["spec"]["podSelector"]["matchLabels"] == {"cnpg.io/cluster": db}
        clients = policy["spec"]["ingress"][0]
        assert clients["from"] == [
            {
                "podSelector": {
                    "matchLabels": {
                        "app.kubernetes.io/component": tier,
                        "app.kubernetes.io/part-of": "xueji",
                    }
                }
            }
        ]
        # The database pods must not fall under the tier's own (egress-limiting) policy.
        inherited = cluster["spec"]["inheritedMetadata"]["labels"]
        assert inherited["app.kubernetes.io/component"] != tier


# --- stateful backing services -----------------------------------------------------------------


def test_national_overlay_holds_the_broker_and_the_national_database() -> None:
    docs = overlay("national")
    (rabbit,) = of_kind(docs, "RabbitmqCluster")
    assert rabbit["metadata"]["namespace"] == "xueji-broker"
    assert rabbit["spec"]["replicas"] == 3
    (database,) = of_kind(docs, "Cluster")
    assert database["metadata"]["name"] == "xueji-national-db"
    assert database["spec"]["instances"] == 3
    assert [tier_of(d) for d in tier_deployments(docs)] == ["national"]


def test_the_national_overlay_carries_the_alert_rules_and_the_scrape_of_every_tier() -> None:
    """Once for the cluster (decision 0030): the PrometheusRule is the plain rule file's groups,
    unchanged, and the committed manifest is what the generator writes."""
    docs = overlay("national")
    (rule,) = of_kind(docs, "PrometheusRule")
    assert rule["metadata"]["namespace"] == "xueji-national"
    assert rule["spec"]["groups"] == alert_rules.rule_groups()
    manifest = alert_rules.MANIFEST
    assert manifest.read_text(encoding="utf-8") == alert_rules.render(), (
        "regenerate: python -m devtools.alert_rules > " + str(manifest.relative_to(REPO))
    )
    (monitor,) = of_kind(docs, "ServiceMonitor")
    assert monitor["spec"]["namespaceSelector"] == {"any": True}
    (selected,) = monitor["spec"]["selector"]["matchExpressions"]
    assert sorted(selected["values"]) == sorted(f"xueji-{tier}" for tier in TIERS)
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    for name in PROVINCE_OVERLAYS:  # evaluated once, not once per namespace
        assert not of_kind(overlay(name), "PrometheusRule"), name
    for service in of_kind(docs, "Service"):
        if labels_of(service)["app.kubernetes.io/name"] in selected["values"]:
            assert [p["name"] for p in service["spec"]["ports"]] == ["http"]


@pytest.mark.parametrize("name", PROVINCE_OVERLAYS)
def test_province_overlay_runs_three_tiers_with_a_database_each(name: str) -> None:
    docs = overlay(name)
    assert sorted(tier_of(d) for d in tier_deployments(docs)) == [
        "county",
        "province",
        "school",
    ]
    clusters = {c["metadata"]["name"]: c["spec"]["instances"] for c in of_kind(docs, "Cluster")}
    assert clusters == {"xueji-province-db": 2, "xueji-county-db": 2, "xueji-school-db": 2}
    assert not of_kind(docs, "RabbitmqCluster"), "the broker is shared, not per province"


# --- request limits at the edge (decision 0026) --------------------------------------------------


def _service_body_limits(tier: str, tmp_path: Path) -> int:
    """The largest body any route of ``tier`` accepts, as the service itself decides."""
    from shared.runtime.limits import HttpLimits, declared_body_limits
    from tests.shared.audit.test_coverage import app_of

    declared = declared_body_limits(app_of(tier, tmp_path)).values()
    return max([HttpLimits().max_body_bytes, *declared])


def _nginx_bytes(size: str) -> int:
    units = {"k": 1024, "m": 1024 * 1024}
    return int(size[:-1]) * units[size[-1].lower()] if size[-1].isalpha() else int(size)


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_service_is_reached_through_an_ingress_with_its_own_limits(
    name: str, tmp_path: Path
) -> None:
    docs = overlay(name)
    ingresses = of_kind(docs, "Ingress")
    hosts = set()
    for deployment in tier_deployments(docs):
        tier = tier_of(deployment)
        main = named(docs, "Ingress", f"xueji-{tier}")
        login = named(docs, "Ingress", f"xueji-{tier}-login")
        for ingress in (main, login):
            (rule,) = ingress["spec"]["rules"]
            (path,) = rule["http"]["paths"]
            assert path["backend"]["service"] == {"name": f"xueji-{tier}", "port": {"name": "http"}}
            hosts.add((tier, rule["host"]))
        notes = main["metadata"]["annotations"]
        body = _nginx_bytes(notes["nginx.ingress.kubernetes.io/proxy-body-size"])
        assert body == _service_body_limits(tier, tmp_path), tier
        assert notes["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
        login_notes = login["metadata"]["annotations"]
        assert login["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/api/v1/auth/token"
        assert int(login_notes["nginx.ingress.kubernetes.io/limit-rps"]) > 0
        assert _nginx_bytes(login_notes["nginx.ingress.kubernetes.io/proxy-body-size"]) <= body
    consoles = len(of_kind(docs, "Deployment")) - len(tier_deployments(docs))
    assert len(ingresses) == 2 * len(tier_deployments(docs)) + 2 * consoles
    if name in PROVINCE_OVERLAYS:  # one host per tier and province: namespaces never collide
        assert {host for _tier, host in hosts} == {
            f"{tier}-{province_code(name)}.xueji.invalid"
            for tier in ("province", "county", "school")
        }


def test_the_ingress_controller_buffers_headers_as_the_services_limit_them() -> None:
    from shared.runtime.limits import HttpLimits

    (config,) = of_kind(render(K8S / "base" / "ingress-nginx"), "ConfigMap")
    assert config["metadata"]["namespace"] == "ingress-nginx"
    count, size = config["data"]["large-client-header-buffers"].split()
    assert int(count) >= 1
    assert _nginx_bytes(size) == HttpLimits().max_header_bytes
    assert config["data"]["use-forwarded-headers"] == "false"  # clients cannot spoof addresses


# --- the console (services/console, decision 0029) ---------------------------------------------


@pytest.mark.parametrize("name", PROVINCE_OVERLAYS)
def test_console_is_stateless_probed_and_reaches_the_hosted_instances(name: str) -> None:
    docs = overlay(name)
    console = named(docs, "Deployment", "xueji-console")
    spec = pod_spec(console)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    assert container["command"][:5] == [
        "python",
        "-m",
        "services.console",
        "--config",
        "/etc/xueji/federation.toml",
    ]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = env_names(container)
    assert env["XUEJI_ENV"]["value"] == "production"
    assert env["XUEJI_CONSOLE_SECURE_COOKIE"]["value"] == "true"
    assert env["XUEJI_CONSOLE_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "session-secret"
    # no database, no broker, no signing or token key: it acts with each user's own token
    for privileged in ("XUEJI_DATABASE_URL", "XUEJI_AMQP_URL", "XUEJI_JWT_SECRET", *SIGNING_ENV):
        assert privileged not in env, privileged
    assert {v["name"] for v in spec["volumes"]} == {"config", "tmp"}
    assert not [j for j in of_kind(docs, "Job") if "console" in j["metadata"]["name"]]
    service = named(docs, "Service", "xueji-console")
    assert service["spec"]["selector"] == console["spec"]["selector"]["matchLabels"]
    assert named(docs, "PodDisruptionBudget", "xueji-console")
    # every instance the fragment lists at a bind address has a URL the console can reach
    key = env["XUEJI_CONSOLE_INSTANCE_URLS"]["valueFrom"]["configMapKeyRef"]
    urls = json.loads(named(docs, "ConfigMap", key["name"])["data"][key["key"]])
    federation = tomllib.loads(config_map_data(docs, "xueji-config")["federation.toml"])
    bound = {i["name"] for i in federation["instance"] if i.get("host", "") == "0.0.0.0"}
    assert set(urls) == bound
    services = {d["metadata"]["name"] for d in of_kind(docs, "Service")}
    for url in urls.values():
        assert url.removeprefix("http://") in services, url
    # the browsers' way in: its own host, the intake upload's body limit, a rate-limited login
    from services.console.settings import ConsoleSettings

    main, login = (
        named(docs, "Ingress", "xueji-console"),
        named(docs, "Ingress", "xueji-console-login"),
    )
    for ingress in (main, login):
        (rule,) = ingress["spec"]["rules"]
        assert rule["host"] == f"console-{province_code(name)}.xueji.invalid"
        (path,) = rule["http"]["paths"]
        assert path["backend"]["service"] == {"name": "xueji-console", "port": {"name": "http"}}
    body = main["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert _nginx_bytes(body) >= ConsoleSettings().console_max_upload_bytes
    assert login["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/login"
    assert int(login["metadata"]["annotations"]["nginx.ingress.kubernetes.io/limit-rps"]) > 0


# --- broker users (decision 0025) --------------------------------------------------------------

BROKER_KINDS = ("User", "Permission", "TopicPermission")


def _amqp_user(url: str) -> str:
    return url.split("://", 1)[1].split(":", 1)[0]


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_instance_has_its_own_broker_user_with_the_rights_the_contracts_give(
    name: str, tmp_path: Path
) -> None:
    """broker-users.yaml is what the contracts give this namespace's instances (regenerate it
    with devtools.broker_users when a contract changes), and each instance's amqp-url names
    its own user, whose credentials Secret the User object imports."""
    config = pytest.importorskip("shared.federation.config")
    broker_users = pytest.importorskip("devtools.broker_users")
    docs = overlay(name)
    path = tmp_path / "federation.toml"
    path.write_text(config_map_data(docs, "xueji-config")["federation.toml"], encoding="utf-8")
    federation = config.load_federation(path)
    instances = config_map_data(docs, "xueji-instances")  # also the console's (no broker)
    chosen = {tier: name for tier, name in instances.items() if tier in TIERS}
    expected = broker_users.k8s_objects(federation, list(chosen.values()))
    rendered = [d for d in docs if d["kind"] in BROKER_KINDS]
    assert {(d["kind"], d["metadata"]["name"]): d["spec"] for d in rendered} == {
        (d["kind"], d["metadata"]["name"]): d["spec"] for d in expected
    }, "broker-users.yaml is stale: python -m devtools.broker_users k8s --config ... --instance ..."
    users = {d["metadata"]["name"]: d for d in of_kind(docs, "User")}
    for tier, instance in chosen.items():
        user = f"xueji-{instance}"
        secret_name = users[user]["spec"]["importCredentialsSecret"]["name"]
        secret = named(docs, "Secret", secret_name)
        assert secret["type"] == "kubernetes.io/basic-auth"
        assert secret_values(secret)["username"] == user
        assert _amqp_user(secret_values(named(docs, "Secret", f"xueji-{tier}"))["amqp-url"]) == user
        for doc in rendered:
            assert doc["spec"]["rabbitmqClusterReference"] == {
                "name": "xueji-rabbitmq",
                "namespace": "xueji-broker",
            }


def test_the_broker_declares_the_exchanges_and_admits_every_overlays_users() -> None:
    """The broker's administrator, not the instances' users, declares what they share: the
    exchanges (xueji.dead a topic exchange, so topic permissions confine each user to its own
    dead letters) and the token revocations' stream, bound to its exchange (decision 0025)."""
    revocation = pytest.importorskip("shared.security.revocation")
    docs = overlay("national")
    broker = [d for d in docs if d["metadata"].get("namespace") == "xueji-broker"]
    exchanges = {d["spec"]["name"]: d["spec"]["type"] for d in of_kind(broker, "Exchange")}
    assert exchanges == {
        "xueji.events": "topic",
        "xueji.dead": "topic",
        "xueji.retry": "topic",
        revocation.EXCHANGE: "fanout",
    }
    (stream,) = of_kind(broker, "Queue")
    assert stream["spec"]["name"] == revocation.STREAM and stream["spec"]["durable"] is True
    assert {"x-queue-type": stream["spec"]["type"], **stream["spec"]["arguments"]} == (
        revocation.STREAM_ARGUMENTS
    )
    (binding,) = of_kind(broker, "Binding")
    assert {k: binding["spec"][k] for k in ("source", "destination", "destinationType")} == {
        "source": revocation.EXCHANGE,
        "destination": revocation.STREAM,
        "destinationType": "queue",
    }
    (rabbit,) = of_kind(docs, "RabbitmqCluster")
    allowed = rabbit["metadata"]["annotations"]["rabbitmq.com/topology-allowed-namespaces"]
    namespaces = set().union(*(expected_namespaces(n) for n in OVERLAYS)) - {"xueji-broker"}
    assert set(allowed.split(",")) == namespaces


def test_broker_object_checks_catch_missing_rights() -> None:
    broker_users = pytest.importorskip("devtools.broker_users")
    config = pytest.importorskip("shared.federation.config")
    federation = config.load_federation(K8S / "overlays" / "province-33" / "federation.toml")
    [user, permission, *_] = broker_users.k8s_objects(federation, ["school-33"])
    assert check_broker_user(user) == [] and check_broker_permission(permission) == []
    assert r"xueji\.school\-33(?:" in permission["spec"]["permissions"]["configure"]
    broken = {**permission, "spec": {**permission["spec"], "permissions": {"configure": ".*"}}}
    assert sorted(check_broker_permission(broken)) == [
        "spec.permissions.read is required",
        "spec.permissions.write is required",
    ]
    admin = {**user, "spec": {**user["spec"], "tags": ["administrator"]}}
    assert check_broker_user(admin) == [
        "spec.tags must be empty: an instance's user is no administrator"
    ]


def _admits(
    peer: dict[str, Any], policy_namespace: str, namespace: dict[str, str], pod: dict[str, str]
) -> bool:
    """Whether a NetworkPolicy peer (namespaceSelector and podSelector, matchLabels and
    matchExpressions with In) selects a pod with labels ``pod`` in a namespace with labels
    ``namespace``; a peer without a namespaceSelector selects in the policy's own namespace."""

    def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
            return False
        return all(
            e["operator"] == "In" and labels.get(e["key"]) in e["values"]
            for e in selector.get("matchExpressions", [])
        )

    if "namespaceSelector" in peer:
        if not matches(peer["namespaceSelector"], namespace):
            return False
    elif namespace["kubernetes.io/metadata.name"] != policy_namespace:
        return False
    return matches(peer.get("podSelector", {}), pod)


@pytest.mark.parametrize("name", PROVINCE_OVERLAYS)
def test_national_admits_every_pod_whose_egress_calls_it(name: str) -> None:
    """A province namespace's services and console call national (their egress names it);
    national's narrowed ingress must admit each of them, or look-ups fail only in a cluster."""
    national = named(overlay("national"), "NetworkPolicy", "xueji-national")
    (rule,) = national["spec"]["ingress"]
    docs = overlay(name)
    (namespace,) = of_kind(docs, "Namespace")
    callers = 0
    for workload in (w for w in workloads(docs) if w["kind"] == "Deployment"):
        pod = workload["spec"]["template"]["metadata"]["labels"]
        policy = next(
            p
            for p in of_kind(docs, "NetworkPolicy")
            if p["spec"]["podSelector"] and selects(p, pod)
        )
        if not any(r.get("to") == [NATIONAL_PEER] for r in policy["spec"]["egress"]):
            continue
        callers += 1
        labels = {
            **namespace["metadata"]["labels"],
            "kubernetes.io/metadata.name": namespace["metadata"]["name"],
        }
        where = workload["metadata"]["name"]
        assert any(_admits(peer, "xueji-national", labels, pod) for peer in rule["from"]), where
    assert callers == 4  # province, county, school, console
    # and a pod of another namespace not of Xueji is not admitted
    stranger = {"app.kubernetes.io/component": "county", "app.kubernetes.io/part-of": "xueji"}
    default = {"kubernetes.io/metadata.name": "default"}
    assert not any(_admits(p, "xueji-national", default, stranger) for p in rule["from"])

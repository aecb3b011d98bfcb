#!/usr/bin/python3
"""Renders every overlay of deploy/k8s with `kubectl kustomize`, checks the manifests against
the Kubernetes API's types, and checks that the roles are wired to each other.

Schema check: the rendered objects become typed constants of a TypeScript file, checked by
the TypeScript compiler against `kubernetes-types` (the Kubernetes 1.30 API as TypeScript
types, from npm, pinned in tests/deploy/schema/package-lock.json and installed by
scripts/install-deps.sh). Object literals are checked strictly: a misspelt or misplaced field,
a wrong type or a missing required field is an error, as with kubeconform -strict. It runs
offline.

Wiring: trainer ranks (WORLD_SIZE, completions, parallelism, RANK, MASTER_ADDR/PORT, the
headless Service), rollout and reward (listen ports, Services, the addresses in the job
config, gRPC probes), the token (Secret, env, the trainer's override), the job config mount,
the run volume and the dashboard; and `ponder config check` accepts each role's config with
its command-line overrides.
"""
import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

SOURCE = os.environ.get("PONDER_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("PONDER_BINARY_DIR") or os.path.join(SOURCE, "build")
SCHEMA = os.path.join(SOURCE, "tests", "deploy", "schema")
OVERLAYS = ["cpu", "gpu"]
TOKEN = "0123456789abcdef0123456789abcdef"

# apiVersion, kind -> the kubernetes-types module that declares it.
MODULES = {"v1": "core/v1", "apps/v1": "apps/v1", "batch/v1": "batch/v1"}


def render(tree, overlay):
    out = subprocess.run(["kubectl", "kustomize", os.path.join(tree, "overlays", overlay)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise AssertionError(f"kubectl kustomize overlays/{overlay} failed:\n{out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def schema_errors(docs):
    """Type-checks `docs`; returns the compiler's complaints, each naming the object."""
    with tempfile.TemporaryDirectory(prefix="ponder-k8s-schema-") as tmp:
        os.symlink(os.path.join(SCHEMA, "node_modules"), os.path.join(tmp, "node_modules"))
        lines, names = [], {}
        for module in sorted(set(MODULES.values())):
            alias = module.replace("/", "_")
            lines.append(f'import type * as {alias} from "kubernetes-types/{module}";')
        for i, doc in enumerate(docs):
            module = MODULES.get(doc.get("apiVersion"))
            if module is None:
                return [f"{doc.get('kind')}/{doc['metadata']['name']}: no schema for apiVersion "
                        f"{doc.get('apiVersion')!r}"]
            lines.append(f"export const m{i}: {module.replace('/', '_')}.{doc['kind']} = "
                         f"{json.dumps(doc)};")
            names[len(lines)] = f"{doc['kind']}/{doc['metadata']['name']}"
        path = os.path.join(tmp, "manifests.ts")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        tsc = os.path.join(tmp, "node_modules", ".bin", "tsc")
        out = subprocess.run(["node", tsc, "--noEmit", "--strict", "--target", "es2020",
                              "--moduleResolution", "node", path],
                             capture_output=True, text=True, check=False, cwd=tmp)
        if out.returncode == 0:
            return []
        problems = []
        for line in out.stdout.splitlines():
            m = re.match(r".*manifests\.ts\((\d+),\d+\): (.*)", line)
            if m:
                problems.append(f"{names.get(int(m.group(1)), '?')}: {m.group(2)}")
            elif line.strip():
                problems.append(line.strip())
        return problems or [out.stdout + out.stderr]


# ---- Wiring ----------------------------------------------------------------------------


class Manifests:
    def __init__(self, docs):
        self.docs = docs

    def find(self, kind, component=None, name=None):
        out = []
        for d in self.docs:
            labels = d["metadata"].get("labels", {})
            if d["kind"] != kind:
                continue
            if component and labels.get("app.kubernetes.io/component") != component:
                continue
            if name and d["metadata"]["name"] != name:
                continue
            out.append(d)
        return out

    def one(self, kind, component=None, name=None):
        found = self.find(kind, component, name)
        if len(found) != 1:
            raise AssertionError(f"expected one {kind} {component or name or ''}, found "
                                 f"{len(found)}")
        return found[0]


def container(workload):
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: one container per pod"
    return containers[0]


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def arg_after(c, flag):
    args = c.get("args", [])
    return args[args.index(flag) + 1] if flag in args else None


def overrides(c):
    return [a for a in c.get("args", []) if not a.startswith("-") and "=" in a]


def container_port(c, target):
    for p in c.get("ports", []):
        if target in (p.get("name"), p["containerPort"]):
            return p["containerPort"]
    return None


def selects(service, workload):
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


def services_for(m, workload):
    return [s for s in m.find("Service") if selects(s, workload)]


def job_config(m, workload, problems):
    """The job YAML a container reads through --config, or None."""
    c = container(workload)
    name = workload["metadata"]["name"]
    path = arg_after(c, "--config")
    if path is None:
        problems.append(f"{name}: no --config")
        return None, None
    mount = next((v for v in c.get("volumeMounts", [])
                  if path.startswith(v["mountPath"].rstrip("/") + "/")), None)
    if mount is None:
        problems.append(f"{name}: --config {path} is not under any volume mount")
        return None, None
    volume = next(v for v in workload["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == mount["name"])
    cm_name = volume.get("configMap", {}).get("name")
    key = os.path.relpath(path, mount["mountPath"])
    cms = m.find("ConfigMap", name=cm_name)
    if not cms or key not in cms[0].get("data", {}):
        problems.append(f"{name}: --config {path} needs key {key} of ConfigMap {cm_name}")
        return None, None
    return yaml.safe_load(cms[0]["data"][key]), cms[0]["data"][key]


def secret_value(m, ref, who, problems):
    name = ref["name"]
    ref = ref.get("valueFrom", {}).get("secretKeyRef")
    if ref is None:
        problems.append(f"{who}: {name} does not come from a Secret")
        return None
    secrets = m.find("Secret", name=ref["name"])
    if not secrets or ref["key"] not in secrets[0].get("data", {}):
        problems.append(f"{who}: Secret {ref['name']} has no key {ref['key']}")
        return None
    return base64.b64decode(secrets[0]["data"][ref["key"]]).decode()


def check_server(m, component, address_key, trainer_config, problems):
    """A rollout or reward Deployment: its port, Service, probes and the trainer's address."""
    workload = m.one("Deployment", component)
    c = container(workload)
    name = workload["metadata"]["name"]
    listen = arg_after(c, "--listen")
    if listen is None:
        problems.append(f"{name}: no --listen")
        return None
    port = int(listen.rsplit(":", 1)[1])
    if container_port(c, port) is None:
        problems.append(f"{name}: listens on {port} but declares no such container port")
    for probe in ("readinessProbe", "livenessProbe"):
        grpc = c.get(probe, {}).get("grpc")
        if not grpc or grpc.get("port") != port:
            problems.append(f"{name}: {probe} must use the gRPC health service on port {port}")
    services = services_for(m, workload)
    if len(services) != 1:
        problems.append(f"{name}: {len(services)} Services select its pods (want 1)")
        return c
    svc = services[0]
    if svc["spec"].get("clusterIP") != "None":
        problems.append(f"Service {svc['metadata']['name']}: not headless (clusterIP: None)")
    svc_ports = [p for p in svc["spec"]["ports"] if container_port(c, p["targetPort"]) == port]
    if not svc_ports:
        problems.append(f"Service {svc['metadata']['name']}: no port reaches {name}'s {port}")
        return c
    want = f"{svc['metadata']['name']}:{svc_ports[0]['port']}"
    section, key = address_key.split(".")
    got = (trainer_config or {}).get(section, {}).get(key)
    if isinstance(got, list):  # one address: a headless Service name stands for every pod
        got = got[0] if len(got) == 1 else repr(got)
    if got is None or not (got == want or got.startswith(svc["metadata"]["name"] + ".")
                           and got.endswith(f":{svc_ports[0]['port']}")):
        problems.append(f"job config {address_key} is {got!r}; the {component} Service is {want}")
    return c


def check_wiring(docs, overlay):
    """Every way the roles must agree; returns the problems found."""
    m = Manifests(docs)
    problems = []
    trainer = m.one("Job", "trainer")
    name = trainer["metadata"]["name"]
    spec = trainer["spec"]
    tc = container(trainer)
    env = env_of(tc)
    ranks = spec.get("completions")
    if spec.get("completionMode") != "Indexed":
        problems.append(f"{name}: completionMode must be Indexed (pod i is rank i)")
    if spec.get("parallelism") != ranks:
        problems.append(f"{name}: parallelism {spec.get('parallelism')} != completions {ranks}")
    if env.get("WORLD_SIZE", {}).get("value") != str(ranks):
        problems.append(f"{name}: WORLD_SIZE {env.get('WORLD_SIZE', {}).get('value')} != "
                        f"completions {ranks}")
    rank_ref = env.get("RANK", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    if rank_ref != "metadata.annotations['batch.kubernetes.io/job-completion-index']":
        problems.append(f"{name}: RANK must come from the job completion index")
    subdomain = trainer["spec"]["template"]["spec"].get("subdomain")
    master = env.get("MASTER_ADDR", {}).get("value")
    if master != f"{name}-0.{subdomain}":
        problems.append(f"{name}: MASTER_ADDR {master!r} is not rank 0's name {name}-0.{subdomain}")
    master_port = int(env.get("MASTER_PORT", {}).get("value", "0"))
    rendezvous = m.find("Service", name=subdomain)
    if not rendezvous:
        problems.append(f"{name}: no Service named after its subdomain {subdomain!r}")
    else:
        svc = rendezvous[0]
        if svc["spec"].get("clusterIP") != "None" or not svc["spec"].get(
                "publishNotReadyAddresses"):
            problems.append(f"Service {subdomain}: must be headless and publish not-ready pods")
        if not selects(svc, trainer):
            problems.append(f"Service {subdomain}: does not select the trainer pods")
        if not any(container_port(tc, p["targetPort"]) == master_port and p["port"] == master_port
                   for p in svc["spec"]["ports"]):
            problems.append(f"Service {subdomain}: no port {master_port} (MASTER_PORT)")

    config, config_text = job_config(m, trainer, problems)
    check_server(m, "rollout", "rollout.addresses", config, problems)
    rc = check_server(m, "reward", "reward.addresses", config, problems)

    # The token: one Secret, read by the reward server and handed to the trainer's client.
    tokens = {}
    for who, c in (("trainer", tc), ("reward", rc)):
        if c is None:
            continue
        ref = env_of(c).get("PONDER_REWARD_TOKEN")
        if ref is None:
            problems.append(f"{who}: no PONDER_REWARD_TOKEN")
            continue
        tokens[who] = secret_value(m, ref, who, problems)
    if tokens.get("trainer") != tokens.get("reward"):
        problems.append("trainer and reward server read different tokens")
    if any(a.startswith("reward.token=") for a in tc.get("args", [])):
        problems.append(f"{name}: the token belongs in PONDER_REWARD_TOKEN, not in its args")

    # The run directory lives on the shared volume.
    if config:
        run_dir = config.get("run", {}).get("dir", "")
        mount = next((v for v in tc.get("volumeMounts", [])
                      if run_dir.startswith(v["mountPath"].rstrip("/") + "/")), None)
        volume = mount and next(v for v in trainer["spec"]["template"]["spec"]["volumes"]
                                if v["name"] == mount["name"])
        claim = volume and volume.get("persistentVolumeClaim", {}).get("claimName")
        pvc = m.find("PersistentVolumeClaim", name=claim) if claim else []
        if not pvc:
            problems.append(f"{name}: run.dir {run_dir} is not on a PersistentVolumeClaim")
        elif ranks > 1 and "ReadWriteMany" not in pvc[0]["spec"]["accessModes"]:
            problems.append(f"PersistentVolumeClaim {claim}: {ranks} ranks need ReadWriteMany")

    # Monitoring: every role reads monitor.http from the job config; off loopback it needs the
    # token, and the port must be the trainer's dashboard port.
    http = (config or {}).get("monitor", {}).get("http")
    if http is None:
        problems.append("job config: no monitor.http, so the dashboard Service reaches nothing")
    else:
        port = http.get("port", 0)
        if container_port(tc, "dashboard") != port:
            problems.append(f"{name}: its dashboard port is not monitor.http.port {port}")
        loopback = http.get("host", "127.0.0.1") in ("127.0.0.1", "localhost", "::1")
        for w in [trainer] + m.find("Deployment"):
            c = container(w)
            if container_port(c, port) is None:
                problems.append(f"{w['metadata']['name']}: no container port {port} for /metrics")
            ref = env_of(c).get("PONDER_MONITOR_TOKEN")
            if not loopback and ref is None:
                problems.append(f"{w['metadata']['name']}: monitor.http listens on {http['host']} "
                                "without PONDER_MONITOR_TOKEN")
            elif ref is not None:
                secret_value(m, ref, w["metadata"]["name"], problems)

    dashboard = m.one("Service", "dashboard")
    selector = dashboard["spec"]["selector"]
    labels = dict(trainer["spec"]["template"]["metadata"]["labels"])
    labels["batch.kubernetes.io/job-completion-index"] = "0"
    if any(labels.get(k) != v for k, v in selector.items()) or \
            selector.get("batch.kubernetes.io/job-completion-index") != "0":
        problems.append("Service ponder-dashboard must select the trainer pod of rank 0")
    if not all(container_port(tc, p["targetPort"]) for p in dashboard["spec"]["ports"]):
        problems.append("Service ponder-dashboard: its targetPort is not a trainer port")

    workloads = [trainer] + m.find("Deployment")
    images = {container(w)["image"] for w in workloads}
    if len(images) != 1:
        problems.append(f"one image for every role, found {sorted(images)}")
    gpus = {w["metadata"]["name"]: container(w).get("resources", {}).get("limits", {}).get(
        "nvidia.com/gpu") for w in workloads}
    for w in workloads:
        wname = w["metadata"]["name"]
        on_gpu = "model.device=cuda" in container(w).get("args", [])
        if overlay == "gpu" and wname != "ponder-reward" and not (gpus[wname] and on_gpu):
            problems.append(f"{wname}: the gpu overlay gives it a GPU and model.device=cuda")
        if overlay == "cpu" and (gpus[wname] or on_gpu):
            problems.append(f"{wname}: the cpu overlay asks for a GPU")
    return problems, config_text


def config_check(config_text, args):
    """`ponder config check` on a role's job config with its overrides."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(config_text)
        f.flush()
        return subprocess.run([os.path.join(BINARY, "cli", "ponder"), "config", "check", f.name] + args, capture_output=True, text=True, check=False)


class K8sTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("kubectl") is None:
            raise AssertionError("kubectl is not installed (scripts/install-deps.sh installs it)")
        if not os.path.isdir(os.path.join(SCHEMA, "node_modules", "kubernetes-types")):
            raise AssertionError("tests/deploy/schema/node_modules is missing: run "
                                 "scripts/install-deps.sh")
        cls.tmp = tempfile.mkdtemp(prefix="ponder-k8s-")
        tree = os.path.join(cls.tmp, "k8s")
        shutil.copytree(os.path.join(SOURCE, "deploy", "k8s"), tree)
        with open(os.path.join(tree, "base", "token"), "w") as f:  # what the user creates
            f.write(TOKEN)
        cls.docs = {overlay: render(tree, overlay) for overlay in OVERLAYS}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_manifests_match_the_kubernetes_api(self):
        docs = [d for overlay in OVERLAYS for d in self.docs[overlay]]
        self.assertEqual(schema_errors(docs), [])

    def test_the_schema_check_finds_unknown_fields_wrong_types_and_missing_fields(self):
        docs = copy.deepcopy(self.docs["cpu"])
        job = Manifests(docs).one("Job", "trainer")
        c = container(job)
        c["readinesProbe"] = c.pop("ports")[0]  # misspelt field
        rollout = container(Manifests(docs).one("Deployment", "rollout"))
        rollout["ports"][0]["containerPort"] = "50051"  # a string
        del Manifests(docs).one("Deployment", "reward")["spec"]["selector"]  # required
        problems = "\n".join(schema_errors(docs))
        self.assertIn("Job/ponder-trainer", problems)
        self.assertIn("readinesProbe", problems)
        self.assertIn("Deployment/ponder-rollout", problems)
        self.assertIn("not assignable to type 'number'", problems)
        self.assertIn("Deployment/ponder-reward", problems)
        self.assertIn("selector", problems)

    def test_roles_agree_on_ranks_services_and_token(self):
        for overlay in OVERLAYS:
            with self.subTest(overlay=overlay):
                problems, _ = check_wiring(self.docs[overlay], overlay)
                self.assertEqual(problems, [])
                m = Manifests(self.docs[overlay])
                self.assertEqual(m.one("Job", "trainer")["spec"]["completions"], 2)
                self.assertEqual(container(m.one("Job", "trainer"))["image"],
                                 "ponder:" + ("cpu" if overlay == "cpu" else "cuda"))

    def test_each_roles_config_and_overrides_load(self):
        for overlay in OVERLAYS:
            m = Manifests(self.docs[overlay])
            for w in [m.one("Job", "trainer")] + m.find("Deployment"):
                with self.subTest(overlay=overlay, workload=w["metadata"]["name"]):
                    problems = []
                    _, text = job_config(m, w, problems)
                    self.assertEqual(problems, [])
                    out = config_check(text, overrides(container(w)))
                    self.assertEqual(out.returncode, 0, out.stderr)

    def test_the_wiring_check_finds_what_disagrees(self):
        def broken(change):
            docs = copy.deepcopy(self.docs["cpu"])
            change(Manifests(docs))
            return "\n".join(check_wiring(docs, "cpu")[0])

        def world(m):
            env_of(container(m.one("Job", "trainer")))["WORLD_SIZE"]["value"] = "3"

        def rollout_port(m):
            m.one("Service", "rollout")["spec"]["ports"][0]["port"] = 6000

        def token_key(m):
            env_of(container(m.one("Deployment", "reward")))["PONDER_REWARD_TOKEN"][
                "valueFrom"]["secretKeyRef"]["key"] = "tokn"

        def master(m):
            env_of(container(m.one("Job", "trainer")))["MASTER_ADDR"]["value"] = "trainer-0"

        def probe(m):
            container(m.one("Deployment", "reward"))["readinessProbe"]["grpc"]["port"] = 1

        self.assertIn("WORLD_SIZE 3 != completions 2", broken(world))
        self.assertIn("job config rollout.addresses is 'ponder-rollout:50051'; the rollout "
                      "Service is ponder-rollout:6000", broken(rollout_port))
        self.assertIn("reward: Secret ponder-token-", broken(token_key))
        self.assertIn("has no key tokn", broken(token_key))
        self.assertIn("MASTER_ADDR 'trainer-0' is not rank 0's name", broken(master))
        self.assertIn("ponder-reward: readinessProbe must use the gRPC health service on port "
                      "50052", broken(probe))

        def monitor_token(m):
            c = container(m.one("Deployment", "rollout"))
            c["env"] = [e for e in c["env"] if e["name"] != "PONDER_MONITOR_TOKEN"]

        self.assertIn("ponder-rollout: monitor.http listens on 0.0.0.0 without "
                      "PONDER_MONITOR_TOKEN", broken(monitor_token))


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/env python3
"""Mechanical checks of the deployment files (no container engine or cluster needed).

docker-compose.yml, config/.env.compose.example, config/k8s/*.yaml, config/grafana/enablebot-dashboard.json and
config/nginx.conf (rendered by scripts/render-nginx.sh, then `nginx -t`). One line per check, then
"N passed, M failed"; exit status 1 when anything failed. Needs Python 3 with PyYAML (installed with apt when
missing) and nginx. The settings' names are read from $ENABLEBOT_SPEC, else docs/CONTRACT.md (the repository's contract).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import yaml
except ImportError:  # Debian's python3-yaml belongs to /usr/bin/python3: install it and run under that one
    if os.environ.get("CHECK_DEPLOY_REEXEC"):
        sys.exit("check-deploy: PyYAML is missing (apt-get install python3-yaml)")
    if subprocess.call(["/usr/bin/python3", "-c", "import yaml"], stderr=subprocess.DEVNULL) != 0:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.check_call(sudo + ["apt-get", "install", "-y", "-qq", "python3-yaml"], env=env, stdin=subprocess.DEVNULL)
    os.execve("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv, dict(os.environ, CHECK_DEPLOY_REEXEC="1"))

# Settings whose values are secret (or carry one: the URLs embed passwords). They may reach a container only
# from an env file, a Secret through secretKeyRef, never as a literal in docker-compose.yml or a manifest.
SECRET_NAMES = {"DATABASE_URL", "REDIS_URL", "ENCRYPTION_KEYS", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID",
                "SLACK_CLIENT_SECRET", "ADMIN_PASSWORD", "LLM_API_KEY", "OPENAI_API_KEY"}
REQUIRED_IN_PRODUCTION = ["ENCRYPTION_KEYS", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET",
                          "ADMIN_PASSWORD", "LLM_API_KEY", "DATABASE_URL", "REDIS_URL"]
POSTGRES_IMAGE_NAMES = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
PORTS = {"api": 8001, "web": 8000}
PORT_VARS = {"api": "API_PORT", "web": "WEB_PORT"}
PG_MAX_CONNECTIONS_DEFAULT, PG_RESERVED = 100, 3

results = []


def check(name, ok, detail=""):
    ok = bool(ok)
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))
    return ok


def attempt(name, fn):
    """Runs a check whose own code may throw on malformed input: an exception is that check's failure."""
    try:
        ok, detail = fn()
    except Exception as error:  # noqa: BLE001 - a malformed file must fail one check, not the script
        ok, detail = False, f"{type(error).__name__}: {error}"
    return check(name, ok, detail)


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        return handle.read()


# --- Slack app manifest: what "Pointing it at real Slack" asks an operator to create ------------------------
def check_manifest():
    path = os.path.join(ROOT, "config", "slack-app-manifest.yaml")
    manifest = yaml.safe_load(open(path))
    settings_swift = open(os.path.join(ROOT, "Sources", "EnableBotCore", "Config", "Settings.swift")).read()
    default_scopes = re.search(r'public var slackScopes = "([^"]+)"', settings_swift).group(1).split(",")
    bot_scopes = manifest["oauth_config"]["scopes"]["bot"]
    check("manifest: bot scopes are SLACK_SCOPES' default", sorted(bot_scopes) == sorted(default_scopes),
          f"manifest {bot_scopes} vs default {default_scopes}")
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    wanted = {"app_mention", "message.im", "app_uninstalled", "tokens_revoked", "assistant_thread_started",
              "assistant_thread_context_changed"}
    check("manifest: subscribes to the events the API handles", wanted <= events, f"missing {sorted(wanted - events)}")
    check("manifest: events go to /slack/events",
          manifest["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events"))
    commands = {c["command"]: c["url"] for c in manifest["features"]["slash_commands"]}
    check("manifest: /ask goes to /slack/commands", commands.get("/ask", "").endswith("/slack/commands"), f"{commands}")
    redirects = manifest["oauth_config"]["redirect_urls"]
    check("manifest: both OAuth redirect URLs (install, Sign in with Slack)",
          any(u.endswith("/slack/oauth/callback") for u in redirects) and any(u.endswith("/auth/slack/callback") for u in redirects),
          f"{redirects}")
    check("manifest: the assistant view is configured", "assistant_view" in manifest["features"])


# --- SPEC.md: the names of the settings -------------------------------------------------------------------
def spec_names():
    candidates = [os.environ.get("ENABLEBOT_SPEC"), os.path.join(ROOT, "docs", "CONTRACT.md"),
                  os.path.join(ROOT, "..", "shared", "SPEC.md")]
    for path in filter(None, candidates):
        if os.path.exists(path):
            text = open(path, encoding="utf-8").read()
            names = {t for t in re.findall(r"`([A-Z][A-Z0-9_]+)`", text) if "_" in t or t == "HOST"}
            # Ports are named in SPEC's table of executables as `WEB_PORT` = 8000, which the pattern above also finds.
            return names, path
    return None, None


SPEC, SPEC_PATH = spec_names()
check("SPEC.md found and names settings", SPEC and {"DATABASE_URL", "ENCRYPTION_KEYS", "WEB_PORT", "API_PORT"} <= SPEC,
      f"looked in $ENABLEBOT_SPEC, docs/CONTRACT.md, ../shared/SPEC.md (found {SPEC_PATH})")
SPEC = SPEC or set()


def unknown(names, allowed=frozenset()):
    return sorted(n for n in names if n not in SPEC and n not in allowed)


# --- Sources: metric names and their dimensions ------------------------------------------------------------
def source_metrics():
    metrics = {}  # name -> {"kind": Counter|Timer|…, "labels": set}
    pattern = re.compile(r'\b(Counter|FloatingPointCounter|Timer|Gauge|Recorder|Meter)\(\s*label:\s*"([^"]+)"(.*)')
    for path in glob.glob(os.path.join(ROOT, "Sources", "**", "*.swift"), recursive=True):
        text = open(path, encoding="utf-8").read()
        for match in pattern.finditer(text):
            kind, name, rest = match.groups()
            labels = set(re.findall(r'\(\s*"([a-z_][a-z0-9_]*)"\s*,', rest))
            variable = re.match(r'\s*,\s*dimensions:\s*([A-Za-z_]\w*)', rest)
            if variable:  # dimensions: someVariable → its literal `let someVariable = [("a", …), …]` in the file
                literal = re.search(r'let\s+' + variable.group(1) + r'\s*(?::[^=]+)?=\s*\[(.*)', text)
                if literal:
                    labels |= set(re.findall(r'\(\s*"([a-z_][a-z0-9_]*)"\s*,', literal.group(1)))
            entry = metrics.setdefault(name, {"kind": kind, "labels": set()})
            entry["labels"] |= labels
    return metrics


# --- docker-compose.yml ----------------------------------------------------------------------------------
def compose_checks():
    try:
        compose = yaml.safe_load(read("docker-compose.yml"))
        services = compose["services"]
    except Exception as error:  # noqa: BLE001
        check("docker-compose.yml parses", False, str(error))
        return
    check("docker-compose.yml parses", True)
    expected = {"postgres", "redis", "migrate", "api-1", "api-2", "web", "nginx"}
    check("compose: services postgres, redis, migrate, api-1, api-2, web, nginx", expected <= set(services),
          f"missing {sorted(expected - set(services))}")
    check("compose: postgres is 16, redis is 7",
          str(services.get("postgres", {}).get("image", "")).startswith("postgres:16")
          and str(services.get("redis", {}).get("image", "")).startswith("redis:7"))

    def role(name):
        service = services[name]
        build = service.get("build") or {}
        dockerfile = build.get("dockerfile", "") if isinstance(build, dict) else ""
        if name == "migrate":
            return "migrate"
        if "Dockerfile.api" in dockerfile or name.startswith("api"):
            return "api"
        if "Dockerfile.web" in dockerfile or name.startswith("web"):
            return "web"
        return None

    apps = [n for n in services if role(n) in ("api", "web")]
    for name, service in services.items():
        if name == "migrate":
            continue
        test = service.get("healthcheck", {}).get("test")
        check(f"compose: {name} has a healthcheck", test)
        if role(name) in ("api", "web"):
            port = PORTS[role(name)]
            flat = " ".join(test) if isinstance(test, list) else str(test)
            check(f"compose: {name} healthcheck asks /health on {port} and fails on non-2xx",
                  f"127.0.0.1:{port}/health" in flat and re.search(r"(\s-\w*f|--fail)", flat), flat)
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            check(f"compose: {name} depends_on uses conditions", False, "a list has no conditions")
            continue
        for target, spec in depends.items():
            condition = (spec or {}).get("condition")
            wanted = "service_completed_successfully" if target == "migrate" else "service_healthy"
            check(f"compose: {name} waits for {target} ({wanted})", target in services and condition == wanted,
                  f"condition {condition}")
    for name in apps:
        depends = services[name].get("depends_on") or {}
        check(f"compose: {name} starts after postgres, redis and migrate", {"postgres", "redis", "migrate"} <= set(depends))
    migrate = services.get("migrate", {})
    command = (migrate.get("entrypoint") or []) + (migrate.get("command") or [])
    check("compose: migrate runs `enablebot migrate` once", command[-2:] == ["/app/enablebot", "migrate"]
          and migrate.get("restart") in ("no", None), str(command))
    for name in apps + ["migrate"]:
        env = services[name].get("environment") or {}
        env = dict(e.split("=", 1) for e in env) if isinstance(env, list) else env
        check(f"compose: {name} has ENABLEBOT_ENV=production" + ("" if name == "migrate" else " and HOST=0.0.0.0"),
              env.get("ENABLEBOT_ENV") == "production" and (name == "migrate" or env.get("HOST") == "0.0.0.0"))
        if name != "migrate":
            check(f"compose: {name} listens on its port ({PORT_VARS[role(name)]})",
                  str(env.get(PORT_VARS[role(name)])) == str(PORTS[role(name)]))
        check(f"compose: {name} has no secret inline (only from its env_file)", not (SECRET_NAMES & set(env)),
              f"inline: {sorted(SECRET_NAMES & set(env))}")
        check(f"compose: {name} environment names are SPEC.md settings", not unknown(env), f"unknown: {unknown(env)}")
        env_files = services[name].get("env_file")
        env_files = [env_files] if isinstance(env_files, str) else (env_files or [])
        check(f"compose: {name} reads an env file with a committed example",
              env_files and all(os.path.exists(os.path.join(ROOT, f + ".example")) for f in env_files), str(env_files))
    for name, service in services.items():
        if role(name) is None:
            env = service.get("environment") or {}
            env = dict(e.split("=", 1) for e in env) if isinstance(env, list) else env
            check(f"compose: {name} has no secret inline", not any("PASSWORD" in k or k in SECRET_NAMES for k in env))

    example_text = read("config/.env.compose.example")
    example = {}
    for line in example_text.splitlines():
        match = re.match(r"\s*#?\s*([A-Z][A-Z0-9_]*)=(.*)", line)
        if match and match.group(1) not in example:
            example[match.group(1)] = match.group(2)
    for name in REQUIRED_IN_PRODUCTION:
        # "commented": the line directly above, or the block the setting opens, explains it.
        index = next((i for i, l in enumerate(example_text.splitlines()) if re.match(rf"\s*#?\s*{name}=", l)), None)
        above = example_text.splitlines()[index - 1] if index else ""
        previous_setting = index is not None and re.match(r"\s*[A-Z][A-Z0-9_]*=", above)
        check(f"compose env example: {name} set and commented", index is not None
              and (above.lstrip().startswith("#") or previous_setting))
    check("compose env example: DATABASE_URL names the postgres service",
          re.match(r"postgres(ql)?://[^@]+@postgres:5432/", example.get("DATABASE_URL", "")), example.get("DATABASE_URL"))
    check("compose env example: REDIS_URL names the redis service",
          re.match(r"redis://([^@]*@)?redis:6379", example.get("REDIS_URL", "")), example.get("REDIS_URL"))
    check("compose env example: only SPEC.md settings (and the postgres image's POSTGRES_*)",
          not unknown(example, POSTGRES_IMAGE_NAMES), f"unknown: {unknown(example, POSTGRES_IMAGE_NAMES)}")
    check("compose env example: secrets are placeholders",
          all("REPLACE" in example.get(n, "REPLACE") for n in ("ENCRYPTION_KEYS", "SLACK_SIGNING_SECRET",
                                                              "SLACK_CLIENT_SECRET", "ADMIN_PASSWORD", "LLM_API_KEY")))

    def budget():
        command = " ".join(map(str, services["postgres"].get("command") or []))
        match = re.search(r"max_connections=(\d+)", command)
        max_connections = int(match.group(1)) if match else PG_MAX_CONNECTIONS_DEFAULT
        pool = int(example.get("DATABASE_POOL_SIZE", "10"))
        used = pool * len(apps) + 1
        return used <= max_connections - PG_RESERVED, f"{pool} × {len(apps)} + 1 = {used} > {max_connections} - {PG_RESERVED}"
    attempt("compose: DATABASE_POOL_SIZE × app containers + migrate fits PostgreSQL max_connections", budget)


# --- nginx ------------------------------------------------------------------------------------------------
def render(args, output):
    return subprocess.run([os.path.join(ROOT, "scripts", "render-nginx.sh"), *args, "-o", output],
                          capture_output=True, text=True)


def nginx_checks():
    text = read("config/nginx.conf")
    active = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    locations = dict(re.findall(r"location\s+(=?\s*\S+)\s*\{([^}]*)\}", active))
    locations = {k.replace("=", "").strip(): v for k, v in locations.items()}

    def upstream(block):
        match = re.search(r"proxy_pass\s+http://(\w+)", block or "")
        return match and match.group(1)
    check("nginx: /slack/events and /slack/commands go to the api upstream",
          upstream(locations.get("/slack/events")) == "enablebot_api" == upstream(locations.get("/slack/commands")))
    check("nginx: /slack/oauth/callback, /auth/slack/callback and everything else go to web",
          all(upstream(locations.get(p)) == "enablebot_web" for p in ("/slack/oauth/callback", "/auth/slack/callback", "/")))
    check("nginx: answers /health itself", "return 200" in (locations.get("/health") or ""))
    upstreams = dict(re.findall(r"upstream\s+(\w+)\s*\{([^}]*)\}", active))
    ok = set(upstreams) == {"enablebot_web", "enablebot_api"}
    for name, block in upstreams.items():
        servers = re.findall(r"^\s*server\s+(.*);", block, re.M)
        ok = ok and len(servers) == 2 and all("max_fails=" in s and "fail_timeout=" in s for s in servers)
        ok = ok and re.search(r"^\s*keepalive\s+\d+;", block, re.M)
    check("nginx: web and api upstreams, 2 servers each with max_fails/fail_timeout, keepalive", ok)
    check("nginx: HTTP/1.1 with Connection \"\" to the upstreams",
          re.search(r"proxy_http_version\s+1\.1;", active) and re.search(r'proxy_set_header\s+Connection\s+"";', active))
    check("nginx: Host, X-Forwarded-For, X-Forwarded-Proto set",
          all(re.search(rf"proxy_set_header\s+{h}\s", active) for h in ("Host", "X-Forwarded-For", "X-Forwarded-Proto")))
    check("nginx: no location sets its own proxy_set_header (that would drop the server's)",
          not any("proxy_set_header" in block for block in locations.values()))
    check("nginx: client_max_body_size 1m (MAX_BODY_BYTES' default)", re.search(r"client_max_body_size\s+1m;", active))
    check("nginx: POSTs to the API never re-sent after a replica got them (no non_idempotent, no http_5xx)",
          all(re.search(r"proxy_next_upstream\s+error\s+timeout;", locations.get(p, ""))
              for p in ("/slack/events", "/slack/commands")) and "non_idempotent" not in active)
    check("nginx: the retry rule for /slack/events is explained in a comment",
          re.search(r"#.*non_idempotent", text) and re.search(r"#.*event_id", text))

    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    with tempfile.TemporaryDirectory(prefix="enablebot-nginx-check-") as prefix:
        os.chmod(prefix, 0o755)  # when run as root, nginx's workers (nobody) must reach the prefix
        conf = os.path.join(prefix, "nginx.conf")
        result = render(["--prefix", prefix, "--foreground", "--listen", "127.0.0.1:18080",
                         "--web", "127.0.0.1:18000,127.0.0.1:18002", "--api", "127.0.0.1:18001,127.0.0.1:18003"], conf)
        if check("nginx: render-nginx.sh writes a loopback config", result.returncode == 0, result.stderr.strip()):
            rendered = open(conf).read()
            check("nginx: rendered config has the given ports, prefix and daemon off",
                  "listen 127.0.0.1:18080;" in rendered and "server 127.0.0.1:18003 " in rendered
                  and f"pid {prefix}/nginx.pid;" in rendered and re.search(r"^daemon off;", rendered, re.M)
                  and "/tmp/enablebot-nginx/" not in re.sub(r"(?m)^\s*#.*$", "", rendered))
            if nginx:
                test = subprocess.run([nginx, "-t", "-c", conf], capture_output=True, text=True)
                check("nginx: `nginx -t` accepts the rendered config", test.returncode == 0, test.stderr.strip()[-400:])
            else:
                check("nginx: `nginx -t` accepts the rendered config", False, "nginx is not installed (scripts/install-deps.sh --with-test-tools)")
        bad = render(["--web", "x;y:1"], os.path.join(prefix, "bad.conf"))
        check("nginx: render-nginx.sh refuses a malformed address", bad.returncode != 0)

    def compose_conf_current():
        generated = read("config/nginx.compose.conf")
        first = generated.splitlines()[0]
        args = first.split("scripts/render-nginx.sh", 1)[1].split()
        with tempfile.TemporaryDirectory() as scratch:
            out = os.path.join(scratch, "c.conf")
            result = render(args, out)
            fresh = open(out).read() if result.returncode == 0 else ""
        body = "\n".join(generated.splitlines()[2:]) + "\n"
        return body == fresh, "stale: render again with the command on its first line"
    attempt("nginx: config/nginx.compose.conf is the template rendered as its first line says", compose_conf_current)
    compose = yaml.safe_load(read("docker-compose.yml"))
    generated = read("config/nginx.compose.conf")
    names = set(re.findall(r"^\s*server\s+([\w.-]+):\d+", generated, re.M))
    check("nginx: config/nginx.compose.conf's upstreams are compose services", names and names <= set(compose["services"]),
          str(sorted(names)))


# --- Kubernetes --------------------------------------------------------------------------------------------
def k8s_checks():
    directory = os.path.join(ROOT, "config", "k8s")
    documents, files = [], sorted(glob.glob(os.path.join(directory, "*.yaml")))
    for path in files:
        try:
            docs = [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d]
            documents += [(os.path.basename(path), d) for d in docs]
            check(f"k8s: {os.path.basename(path)} parses", all("kind" in d for d in docs))
        except Exception as error:  # noqa: BLE001
            check(f"k8s: {os.path.basename(path)} parses", False, str(error))
    by_kind = {}
    for _, doc in documents:
        by_kind.setdefault(doc["kind"], []).append(doc)
    kustomization = next((d for _, d in documents if d["kind"] == "Kustomization"), {})
    listed = set(kustomization.get("resources", []))
    others = {os.path.basename(p) for p in files} - {"kustomization.yaml"}
    check("k8s: kustomization.yaml lists every manifest", listed == others,
          f"unlisted {sorted(others - listed)}, missing {sorted(listed - others)}")

    def named(kind, name):
        return next((d for d in by_kind.get(kind, []) if d["metadata"]["name"] == name), None)

    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind.get("ConfigMap", [])}
    secrets = {d["metadata"]["name"]: set((d.get("stringData") or {}) | (d.get("data") or {})) for d in by_kind.get("Secret", [])}
    for name, data in configmaps.items():
        check(f"k8s: ConfigMap {name} holds no secret", not (SECRET_NAMES & set(data)), str(sorted(SECRET_NAMES & set(data))))
        check(f"k8s: ConfigMap {name} names only SPEC.md settings", not unknown(data), f"unknown: {unknown(data)}")
        check(f"k8s: ConfigMap {name} sets ENABLEBOT_ENV=production, HOST=0.0.0.0",
              data.get("ENABLEBOT_ENV") == "production" and data.get("HOST") == "0.0.0.0")
    for name, keys in secrets.items():
        check(f"k8s: Secret {name} names only SPEC.md settings", not unknown(keys), f"unknown: {unknown(keys)}")
        doc = named("Secret", name)
        values = (doc.get("stringData") or {}).values()
        check(f"k8s: Secret {name} holds placeholders only", all("REPLACE" in str(v) for v in values))

    def containers(doc):
        return doc["spec"]["template"]["spec"]["containers"]

    def env_ok(kind, name, container):
        env_names, problems = set(), []
        for env in container.get("env", []):
            env_names.add(env["name"])
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if env["name"] in SECRET_NAMES or re.search(r"SECRET|PASSWORD|_KEY", env["name"]):
                if "value" in env or not ref:
                    problems.append(f"{env['name']} not from secretKeyRef")
            if ref and ref.get("key") not in secrets.get(ref.get("name"), set()):
                problems.append(f"secretKeyRef {ref.get('name')}/{ref.get('key')} does not exist")
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                problems.append("envFrom secretRef (use secretKeyRef per setting)")
            ref = (source.get("configMapRef") or {}).get("name")
            if ref is not None and ref not in configmaps:
                problems.append(f"ConfigMap {ref} does not exist")
            elif ref is not None:
                env_names |= set(configmaps[ref])
        check(f"k8s: {kind} {name} takes secrets only via secretKeyRef", not problems, "; ".join(problems))
        check(f"k8s: {kind} {name} env names are SPEC.md settings", not unknown(env_names), f"unknown: {unknown(env_names)}")
        return env_names

    pod_labels = {}
    for deployment in by_kind.get("Deployment", []):
        name = deployment["metadata"]["name"]
        component = name.rsplit("-", 1)[-1]
        port = PORTS.get(component)
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        pod_labels[name] = template_labels
        selector = deployment["spec"]["selector"]["matchLabels"]
        check(f"k8s: Deployment {name} selector matches its pod labels", selector.items() <= template_labels.items())
        check(f"k8s: Deployment {name} leaves replicas to the HPA", "replicas" not in deployment["spec"])
        for container in containers(deployment):
            ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            check(f"k8s: Deployment {name} listens on {port}", port in ports.values(), str(ports))
            readiness = container.get("readinessProbe", {}).get("httpGet", {})
            readiness_port = ports.get(readiness.get("port"), readiness.get("port"))
            check(f"k8s: Deployment {name} readiness is GET /health on {port}",
                  readiness.get("path") == "/health" and readiness_port == port, str(readiness))
            liveness = container.get("livenessProbe", {})
            if "httpGet" in liveness:
                http = liveness["httpGet"]
                live_ok = http.get("path") == "/health" and ports.get(http.get("port"), http.get("port")) == port
            else:
                command = " ".join(map(str, (liveness.get("exec") or {}).get("command", [])))
                # Lenient: any HTTP answer (also the 503 of a database outage) keeps the pod; curl without --fail.
                live_ok = f"127.0.0.1:{port}/health" in command and not re.search(r"(\s-\w*f\b|--fail)", command)
            check(f"k8s: Deployment {name} liveness asks /health on {port} (lenient)", live_ok, str(liveness))
            resources = container.get("resources", {})
            check(f"k8s: Deployment {name} has cpu/memory requests and limits",
                  all(k in resources.get(t, {}) for t in ("requests", "limits") for k in ("cpu", "memory")))
            env_names = env_ok("Deployment", name, container)
            check(f"k8s: Deployment {name} sets {PORT_VARS[component]}={port}",
                  any(e["name"] == PORT_VARS[component] and str(e.get("value")) == str(port) for e in container.get("env", [])))
            required = {"api": {"DATABASE_URL", "ENCRYPTION_KEYS", "SLACK_SIGNING_SECRET", "LLM_API_KEY", "REDIS_URL"},
                        "web": {"DATABASE_URL", "ENCRYPTION_KEYS", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET",
                                "ADMIN_PASSWORD", "REDIS_URL"}}[component]
            check(f"k8s: Deployment {name} gets every setting production requires", required <= env_names,
                  f"missing {sorted(required - env_names)}")
    check("k8s: Deployments enablebot-api and enablebot-web", {"enablebot-api", "enablebot-web"} <= set(pod_labels))

    def selects(selector):
        return [n for n, labels in pod_labels.items() if selector and selector.items() <= labels.items()]
    for service in by_kind.get("Service", []):
        name = service["metadata"]["name"]
        targets = selects(service["spec"].get("selector"))
        check(f"k8s: Service {name} selects exactly one Deployment's pods", len(targets) == 1, str(targets))
        if len(targets) == 1:
            deployment = named("Deployment", targets[0])
            port_names = {p.get("name") for c in containers(deployment) for p in c.get("ports", [])}
            port_numbers = {p["containerPort"] for c in containers(deployment) for p in c.get("ports", [])}
            check(f"k8s: Service {name} targets a container port",
                  all(p.get("targetPort") in port_names | port_numbers for p in service["spec"]["ports"]))
    for pdb in by_kind.get("PodDisruptionBudget", []):
        name = pdb["metadata"]["name"]
        targets = selects(pdb["spec"].get("selector", {}).get("matchLabels"))
        check(f"k8s: PodDisruptionBudget {name} selects existing pods", len(targets) == 1, str(targets))
    check("k8s: a PodDisruptionBudget for each Deployment",
          {t for p in by_kind.get("PodDisruptionBudget", []) for t in selects(p["spec"]["selector"]["matchLabels"])} == set(pod_labels))
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind.get("HorizontalPodAutoscaler", [])}
    for target, (low, high) in {"enablebot-api": (1, 10), "enablebot-web": (1, 5)}.items():
        hpa = hpas.get(target)
        cpu = [m["resource"]["target"] for m in (hpa or {}).get("spec", {}).get("metrics", [])
               if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"]
        check(f"k8s: HPA scales Deployment {target} {low}..{high} at 70% CPU",
              hpa and hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment" and target in pod_labels
              and (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (low, high)
              and cpu == [{"type": "Utilization", "averageUtilization": 70}], str(cpu))
    jobs = by_kind.get("Job", [])
    check("k8s: a Job runs `enablebot migrate`", any(
        c.get("command", [])[-2:] == ["/app/enablebot", "migrate"] or c.get("args", [])[-1:] == ["migrate"]
        for j in jobs for c in j["spec"]["template"]["spec"]["containers"]))
    for job in jobs:
        for container in job["spec"]["template"]["spec"]["containers"]:
            env_ok("Job", job["metadata"]["name"], container)

    def budget():
        pool = int(next(iter(configmaps.values())).get("DATABASE_POOL_SIZE", "10"))
        replicas = sum(h["spec"]["maxReplicas"] for h in hpas.values())
        used = pool * replicas + 1
        return used <= PG_MAX_CONNECTIONS_DEFAULT - PG_RESERVED, f"{pool} × {replicas} + 1 = {used}"
    attempt("k8s: DATABASE_POOL_SIZE × max replicas + migrate fits PostgreSQL's default max_connections", budget)

    kubectl = shutil.which("kubectl")
    if kubectl:
        result = subprocess.run([kubectl, "kustomize", directory], capture_output=True, text=True)
        check("k8s: `kubectl kustomize config/k8s` builds", result.returncode == 0, result.stderr.strip()[-300:])
    else:
        print("skip k8s: `kubectl kustomize` (kubectl not installed)")


# --- Grafana -----------------------------------------------------------------------------------------------
PROMQL_WORDS = {"sum", "by", "rate", "irate", "increase", "histogram_quantile", "without", "on", "ignoring",
                "avg", "max", "min", "count", "topk", "bottomk", "and", "or", "unless", "label_values", "le",
                "group_left", "group_right", "offset", "bool", "clamp_min", "clamp_max", "abs", "time"}
PROMETHEUS_LABELS = {"job", "instance", "le"}


def grafana_checks():
    try:
        dashboard = json.loads(read("config/grafana/enablebot-dashboard.json"))
    except Exception as error:  # noqa: BLE001
        check("grafana: enablebot-dashboard.json parses", False, str(error))
        return
    check("grafana: enablebot-dashboard.json parses", True)
    metrics = source_metrics()
    check("grafana: Sources declare metrics (Counter/Timer/… label:)", len(metrics) >= 5, str(sorted(metrics)))
    exprs = []
    for panel in dashboard.get("panels", []):
        exprs += [t["expr"] for t in panel.get("targets", []) if t.get("expr")]
        for inner in panel.get("panels", []):
            exprs += [t["expr"] for t in inner.get("targets", []) if t.get("expr")]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if variable.get("type") == "query":
            exprs.append(query.get("query") if isinstance(query, dict) else query)
    check("grafana: panels query something", len(exprs) >= 10, str(len(exprs)))
    used = {}
    for expr in exprs:
        stripped = re.sub(r'"[^"]*"', '""', expr)
        stripped = re.sub(r"\[[^\]]*\]", "", stripped)
        for name, selector in re.findall(r"\b([a-z_][a-z0-9_]*)\s*(\{[^}]*\})?", stripped):
            if name in PROMQL_WORDS or name.startswith("__") or re.fullmatch(r"[a-z_]+", name) is None:
                continue
            if not ("_" in name and (name.endswith(("_total", "_seconds", "_bucket", "_sum", "_count")) or name in metrics)):
                continue
            used.setdefault(name, set()).update(re.findall(r"([a-z_][a-z0-9_]*)\s*[=!]~?", selector or ""))
        expr_labels = {l.strip() for g in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", stripped) for l in g.split(",") if l.strip()}
        names_here = [n for n in used if re.search(rf"\b{n}\b", stripped)]
        for label in expr_labels:
            # a `by (label)` must be a dimension of at least one metric in the same expression
            if label not in PROMETHEUS_LABELS:
                owners = [n for n in names_here if label in metrics.get(re.sub(r"_(bucket|sum|count)$", "", n), {}).get("labels", set())
                          or label in metrics.get(n, {}).get("labels", set())]
                check(f"grafana: `by ({label})` is a label of a metric in: {expr[:70]}…", owners)
    for name, labels in sorted(used.items()):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name in metrics and metrics[name]["kind"] in ("Counter", "FloatingPointCounter", "Gauge", "Meter"):
            entry = metrics[name]
        elif base != name and base in metrics and metrics[base]["kind"] in ("Timer", "Recorder"):
            entry = metrics[base]  # swift-prometheus writes Timers as histograms: _bucket, _sum, _count
        else:
            entry = None
        check(f"grafana: metric {name} is exported by Sources", entry is not None,
              f"no Counter/Timer(label: \"{base}\") in Sources")
        if entry:
            extra = labels - entry["labels"] - PROMETHEUS_LABELS
            check(f"grafana: {name} filters only on its labels {sorted(entry['labels'])}", not extra, str(sorted(extra)))


def main():
    compose_checks()
    nginx_checks()
    k8s_checks()
    grafana_checks()
    check_manifest()
    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Drives headless Chromium through enablebot-web over the DevTools protocol (standard library only).

    browser_driver.py --base http://127.0.0.1:PORT --password PW --out DIR

Walks the install page ("Add to Slack" through a fake Slack's authorize page and back), the operator login,
the dashboard, a tenant's settings form and the system page, on a desktop and a phone-sized window, saving
a screenshot of each step in DIR. Prints one JSON object with what it saw; exits 1 on the first failed step.
"""
import argparse, base64, json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request, urllib.parse


class WebSocket:
    """The smallest client RFC 6455 needs here: text frames out (masked), text frames in."""

    def __init__(self, url):
        parts = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused: " + head.split(b"\r\n")[0].decode())

    def send(self, text):
        data = text.encode()
        header = bytearray([0x81])
        if len(data) < 126:
            header.append(0x80 | len(data))
        elif len(data) < 65536:
            header.append(0x80 | 126); header += len(data).to_bytes(2, "big")
        else:
            header.append(0x80 | 127); header += len(data).to_bytes(8, "big")
        mask = os.urandom(4)
        self.sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("websocket closed")
            buf += chunk
        return bytes(buf)

    def recv(self):
        message = bytearray()
        while True:
            b0, b1 = self._read(2)
            length = b1 & 0x7F
            if length == 126:
                length = int.from_bytes(self._read(2), "big")
            elif length == 127:
                length = int.from_bytes(self._read(8), "big")
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise RuntimeError("websocket closed by the browser")
            if opcode in (0x9, 0xA):
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()


class Chromium:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="enablebot-chromium-")
        binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if not binary:
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--hide-scrollbars", "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(open(port_file).read().split("\n")[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0
        self.console = []
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Log.enable")

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("method") in ("Runtime.consoleAPICalled", "Log.entryAdded"):
                self.console.append(json.dumps(message.get("params", {}))[:300])
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, predicate, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.evaluate(f"document.readyState === 'complete' && ({predicate})"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what} (at {self.evaluate('location.href')})")

    def goto(self, url, path):
        self.call("Page.navigate", url=url)
        self.wait_for(f"location.pathname === {json.dumps(path)}", path)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def viewport(self, width, height, mobile):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default="gpt-4o-browser")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    seen = {"steps": [], "screenshots": []}
    browser = Chromium()

    def shot(name):
        path = os.path.join(args.out, name)
        browser.screenshot(path)
        seen["screenshots"].append(path)

    def text():
        return browser.evaluate("document.body.innerText") or ""

    try:
        base = args.base.rstrip("/")
        browser.viewport(1280, 900, False)

        browser.goto(base + "/slack/install", "/slack/install")
        assert "Add to Slack" in text(), "install page without the Add to Slack link"
        shot("01-install.png")
        browser.evaluate("document.getElementById('add-to-slack').click()")
        browser.wait_for("location.pathname === '/slack/oauth/callback'", "the OAuth callback")
        assert "EnableBot is installed" in text(), "install did not succeed: " + text()[:300]
        seen["installed"] = browser.evaluate("document.querySelector('h1').innerText")
        shot("02-installed.png")
        seen["steps"].append("install")

        browser.goto(base + "/dashboard", "/login")  # no session yet: redirected to the login page
        shot("03-login.png")
        browser.evaluate(f"document.getElementById('password').value = {json.dumps(args.password)};"
                         "document.querySelector('form[action=\"/login\"]').submit()")
        browser.wait_for("location.pathname === '/dashboard'", "the dashboard after login")
        assert "Installations" in text(), "dashboard did not render"
        shot("04-dashboard.png")
        seen["steps"].append("login")

        tenant_href = browser.evaluate("document.querySelector('table a[href^=\"/dashboard/tenants/\"]').getAttribute('href')")
        browser.goto(base + tenant_href, tenant_href)
        browser.evaluate(f"document.getElementById('model').value = {json.dumps(args.model)};"
                         "document.getElementById('rate_limit').value = '50/minute';"
                         "document.getElementById('system_prompt').value = 'Answer briefly.';"
                         "document.querySelector('form[action$=\"/settings\"]').submit()")
        browser.wait_for("location.search.indexOf('done=settings') >= 0", "the saved settings page")
        assert "Settings saved" in text(), "settings were not saved"
        shot("05-tenant-settings.png")
        seen["tenant"] = tenant_href
        seen["steps"].append("settings")

        browser.goto(base + "/dashboard/audit", "/dashboard/audit")
        assert "settings_changed" in text(), "audit log misses the settings change"
        shot("06-audit.png")
        browser.goto(base + "/dashboard/system", "/dashboard/system")
        assert "Encryption keys" in text()
        shot("07-system.png")
        seen["steps"].append("system")

        browser.viewport(390, 844, True)
        browser.goto(base + "/dashboard", "/dashboard")
        seen["phone_overflow"] = browser.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
        shot("08-dashboard-phone.png")
        browser.goto(base + tenant_href, tenant_href)
        shot("09-tenant-phone.png")
        seen["steps"].append("phone")

        csp_errors = [line for line in browser.console if "Content Security Policy" in line or "Refused" in line]
        seen["console"] = browser.console
        assert not csp_errors, "CSP violations: " + "; ".join(csp_errors)
        print(json.dumps(seen))
        return 0
    except Exception as error:  # one line the Swift test can show
        seen["error"] = f"{type(error).__name__}: {error}"
        try:
            shot("failure.png")
        except Exception:
            pass
        print(json.dumps(seen))
        return 1
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Drives headless Chromium through enablebot-web with Selenium 4 and Debian's chromedriver.

    browser_driver.py --base http://127.0.0.1:PORT --password PW --out DIR [--chromedriver /usr/bin/chromedriver]

Walks the install page ("Add to Slack" through a fake Slack's authorize page and back), the operator login,
the dashboard, a tenant's settings form and the system page, on a desktop and a phone-sized window, saving
a screenshot of each step in DIR. Prints one JSON object with what it saw; exits 1 on the first failed step.

Needs `chromium` and `chromium-driver` (Debian) and `selenium` (PyPI); scripts/install-deps.sh --with-test-tools
installs them. Selenium is told where the browser and chromedriver are, so it never tries to download either.
"""
import argparse, json, os, shutil, sys

os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not go looking for drivers online

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # one line the Swift test can show
    print(json.dumps({"steps": [], "error": "selenium is not installed: run scripts/install-deps.sh --with-test-tools "
                                           "(or python3 -m pip install selenium)"}))
    sys.exit(1)


class Browser:
    def __init__(self, chromedriver):
        binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if not binary:
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        if not os.access(chromedriver, os.X_OK):
            raise RuntimeError(f"chromedriver not found at {chromedriver} (apt-get install chromium-driver)")
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        # --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--hide-scrollbars", "--window-size=1280,900"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console lines, CSP reports among them
        self.driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
        self.driver.set_page_load_timeout(30)
        self.console = []

    def wait_for(self, predicate, what, timeout=20):
        try:
            WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
                lambda d: d.execute_script(f"return document.readyState === 'complete' && ({predicate})"))
        except Exception:
            raise RuntimeError(f"timed out waiting for {what} (at {self.driver.current_url})") from None
        self.collect_console()

    def goto(self, url, path):
        self.driver.get(url)
        self.wait_for(f"location.pathname === {json.dumps(path)}", path)

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def fill(self, element_id, value):
        element = self.driver.find_element(By.ID, element_id)
        if element.tag_name.lower() == "select":
            Select(element).select_by_value(value)
        else:
            element.clear()
            element.send_keys(value)

    def submit(self, selector):
        self.driver.find_element(By.CSS_SELECTOR, selector).submit()

    def screenshot(self, path):
        if not self.driver.save_screenshot(path):
            raise RuntimeError(f"screenshot {path} failed")

    def viewport(self, width, height, mobile):
        # The exact CSS viewport (and a phone's meta viewport handling), not just the window's outer size.
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def collect_console(self):
        for entry in self.driver.get_log("browser"):
            self.console.append(json.dumps(entry)[:300])

    def close(self):
        self.driver.quit()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default="gpt-4o-browser")
    parser.add_argument("--chromedriver", default=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    seen = {"steps": [], "screenshots": []}
    try:
        browser = Browser(args.chromedriver)
    except Exception as error:
        seen["error"] = f"{type(error).__name__}: {error}"
        print(json.dumps(seen))
        return 1

    def shot(name):
        path = os.path.join(args.out, name)
        browser.screenshot(path)
        seen["screenshots"].append(path)

    try:
        base = args.base.rstrip("/")
        browser.viewport(1280, 900, False)

        browser.goto(base + "/slack/install", "/slack/install")
        assert "Add to Slack" in browser.text(), "install page without the Add to Slack link"
        shot("01-install.png")
        browser.driver.find_element(By.ID, "add-to-slack").click()
        browser.wait_for("location.pathname === '/slack/oauth/callback'", "the OAuth callback")
        assert "EnableBot is installed" in browser.text(), "install did not succeed: " + browser.text()[:300]
        seen["installed"] = browser.driver.find_element(By.TAG_NAME, "h1").text
        shot("02-installed.png")
        seen["steps"].append("install")

        browser.goto(base + "/dashboard", "/login")  # no session yet: redirected to the login page
        shot("03-login.png")
        browser.fill("password", args.password)
        browser.submit('form[action="/login"]')
        browser.wait_for("location.pathname === '/dashboard'", "the dashboard after login")
        assert "Installations" in browser.text(), "dashboard did not render"
        shot("04-dashboard.png")
        seen["steps"].append("login")

        tenant_link = browser.driver.find_element(By.CSS_SELECTOR, 'table a[href^="/dashboard/tenants/"]')
        tenant_path = tenant_link.get_dom_attribute("href")
        browser.goto(base + tenant_path, tenant_path)
        browser.fill("model", args.model)
        browser.fill("rate_limit", "50/minute")
        browser.fill("system_prompt", "Answer briefly.")
        browser.submit('form[action$="/settings"]')
        browser.wait_for("location.search.indexOf('done=settings') >= 0", "the saved settings page")
        assert "Settings saved" in browser.text(), "settings were not saved"
        shot("05-tenant-settings.png")
        seen["tenant"] = tenant_path
        seen["steps"].append("settings")

        browser.goto(base + "/dashboard/audit", "/dashboard/audit")
        assert "settings_changed" in browser.text(), "audit log misses the settings change"
        shot("06-audit.png")
        browser.goto(base + "/dashboard/system", "/dashboard/system")
        assert "Encryption keys" in browser.text()
        shot("07-system.png")
        seen["steps"].append("system")

        browser.viewport(390, 844, True)
        browser.goto(base + "/dashboard", "/dashboard")
        seen["phone_overflow"] = browser.driver.execute_script(
            "return document.documentElement.scrollWidth > window.innerWidth + 1")
        shot("08-dashboard-phone.png")
        browser.goto(base + tenant_path, tenant_path)
        shot("09-tenant-phone.png")
        seen["steps"].append("phone")

        browser.collect_console()
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

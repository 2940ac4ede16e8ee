#!/usr/bin/env python3
"""The first ten minutes, in headless Chromium: install EnableBot into the Slack emulator's Acme workspace, mention
the bot in #general on the emulator's chat page, see its answer in the thread, and find the workspace and its event
on the operator's dashboard.

    first_ten_minutes.py --web http://localhost:8000 --emulator http://127.0.0.1:8002 --password PW --out DIR

Prints one JSON object with what it saw; exits 1 on the first failed step. Uses scripts/browser_driver.py's Browser.
"""
import argparse, json, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_driver import Browser, By  # noqa: E402

QUESTION = "@EnableBot what is a sliding window?"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--web", required=True)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--chromedriver", default=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    seen = {"steps": [], "screenshots": [], "timings_s": {}}
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

    started = time.monotonic()
    try:
        web, emulator = args.web.rstrip("/"), args.emulator.rstrip("/")
        browser.viewport(1280, 800, False)

        # 1. Install: the app's install page → the emulator's consent screen → back to the success page.
        browser.goto(web + "/slack/install", "/slack/install")
        shot("01-install.png")
        browser.driver.find_element(By.ID, "add-to-slack").click()
        browser.wait_for("location.pathname === '/oauth/v2/authorize' && !!document.getElementById('allow')", "the consent screen")
        consent = browser.text()
        assert "chat:write" in consent and "Allow" in consent, "consent screen without scopes: " + consent[:300]
        seen["who"] = browser.driver.find_element(By.ID, "who").get_attribute("value")
        shot("02-consent.png")
        browser.driver.find_element(By.ID, "allow").click()
        browser.wait_for("location.pathname === '/slack/oauth/callback'", "the OAuth callback")
        assert "EnableBot is installed" in browser.text(), "install did not succeed: " + browser.text()[:300]
        shot("03-installed.png")
        seen["steps"].append("install")

        # 2. Chat: mention the bot in Acme's #general; its answer appears in the thread.
        browser.goto(emulator + "/chat?team=T0ACME&channel=C0ACMEGENERAL", "/chat")
        assert "app installed" in browser.driver.find_element(By.ID, "ws-T0ACME").text, "Acme does not show the install"
        asked = time.monotonic()
        browser.fill("text", QUESTION)
        browser.submit("#composer")
        browser.wait_for("!!document.querySelector('#messages .thread .msg.bot:not(.streaming)')", "the bot's answer in the thread", 30)
        seen["timings_s"]["answer_after_send"] = round(time.monotonic() - asked, 2)
        seen["question"] = browser.driver.find_element(By.CSS_SELECTOR, "#messages .msg.person .text").text
        seen["answer"] = browser.driver.find_element(By.CSS_SELECTOR, "#messages .thread .msg.bot .text").text
        shot("04-chat-answer.png")
        seen["steps"].append("chat")

        # Tenants apart: Globex has not installed the app, sees none of Acme's conversation and gets no answer.
        browser.goto(emulator + "/chat?team=T0GLOBEX&channel=C0GLOBEXGENERAL", "/chat")
        assert "sliding window" not in browser.driver.find_element(By.ID, "messages").text, "Globex shows Acme's conversation"
        browser.fill("text", "@EnableBot are you there?")
        browser.submit("#composer")
        browser.wait_for("document.getElementById('deliveries').textContent.indexOf('not installed') >= 0",
                         "Globex's delivery note", 10)
        seen["globex_bot_messages"] = len(browser.driver.find_elements(By.CSS_SELECTOR, "#messages .msg.bot"))
        shot("05-chat-other-workspace.png")
        seen["steps"].append("tenants")

        # 3. Dashboard: the operator sees Acme and its one event.
        browser.goto(web + "/dashboard", "/login")
        browser.fill("password", args.password)
        browser.submit('form[action="/login"]')
        browser.wait_for("location.pathname === '/dashboard'", "the dashboard after login")
        # Usage counters are written once a second: give the event's count a few seconds to land, reloading.
        for _ in range(20):
            rows = [row for row in browser.driver.find_elements(By.CSS_SELECTOR, "table tbody tr") if "T0ACME" in row.text]
            assert rows, "the dashboard does not list Acme: " + browser.text()[:400]
            cells = rows[0].find_elements(By.TAG_NAME, "td")
            if cells[3].text.strip() not in ("", "0"):
                break
            time.sleep(0.5)
            browser.driver.refresh()
        seen["dashboard_team"] = cells[0].text.split("\n")[0]
        seen["dashboard_events_today"] = cells[3].text
        shot("06-dashboard.png")
        seen["steps"].append("dashboard")
        seen["timings_s"]["browser_total"] = round(time.monotonic() - started, 2)
        print(json.dumps(seen))
        return 0
    except Exception as error:
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

"""The admin console's browser tests (issue 18): a real headless Chromium, driven by
Selenium through chromium-driver, against the app under roster-host.

Run by scripts/console-check.sh (`make console-check`, and `make test`) with the Python of
target/console-venv. It does not build the components: `make build` must have run. The
app is served by scripts/roster_host.py (a free loopback port, an in-memory store, a random
admin token); the scenario's data is seeded through the canonical API. Then, in one
browser session, every step asserts something visible on the page and saves a
screenshot (NN-step.png) under the output directory (target/console-check):

  bad token, sign in (organization token), search, open a user, a blocked removal
  (an ACTIVE device, 5054, and a pending enrollment token, 5055) whose blockers are
  cleared from the page and which then succeeds, an If-Match conflict (the user changed
  through the API behind the page's back) with its reload, a legal hold placed, named by
  the dry run and lifted, export before erase (the dry run's 5060 cleared by exporting
  from the page), a removal scheduled and cancelled, bulk removal, the audit page,
  an asynchronous removal by a token that may not read operations (driven by repeating
  the DELETE), sign in with a global token that picks an organization, a soft removal and its
  restore, and the users page 375 px wide.

Also checked throughout: the token is in sessionStorage and in no URL or cookie, and the
browser logged no Content-Security-Policy violation or script error. server.log is next
to the screenshots.

Exit status: 0 when every step passed, 1 when one failed (its screenshot is
NN-FAILED.png), 2 when the harness could not set up.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from roster_host import ROOT, RosterHost, SetupError
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 15


class StepFailed(Exception):
    pass


def browser(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    profile = ROOT / "target" / "console-check" / "profile"
    shutil.rmtree(profile, ignore_errors=True)
    for flag in [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={width},{height}",
        "--hide-scrollbars", "--force-device-scale-factor=1",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(options=options, service=service)


class Console:
    """The browser on the console, with one helper per kind of check."""

    def __init__(self, driver: webdriver.Chrome, host: RosterHost, out: Path) -> None:
        self.d = driver
        self.host = host
        self.out = out
        self.step_no = 0
        self.secrets: list[str] = []

    # -- waiting and finding
    def wait(self, condition, what: str):
        try:
            # A page re-rendering while it is looked at: look again.
            return WebDriverWait(self.d, WAIT_S, ignored_exceptions=(
                NoSuchElementException, StaleElementReferenceException)).until(condition)
        except TimeoutException:
            raise StepFailed(f"timed out waiting for {what}") from None

    def text_in(self, css: str, text: str) -> None:
        self.wait(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text),
                  f"{text!r} in {css}")

    def click(self, css: str | None = None, button: str | None = None, link: str | None = None):
        if button is not None:
            xpath = f"//button[normalize-space()={xpath_str(button)}]"
            el = self.wait(EC.element_to_be_clickable((By.XPATH, xpath)), f"button {button!r}")
        elif link is not None:
            el = self.wait(EC.element_to_be_clickable((By.LINK_TEXT, link)), f"link {link!r}")
        else:
            el = self.wait(EC.element_to_be_clickable((By.CSS_SELECTOR, css)), css)
        el.click()
        return el

    def fill(self, label: str, value: str) -> None:
        """Types into the input a <label> names (what a screen reader announces)."""
        lab = self.wait(EC.presence_of_element_located(
            (By.XPATH, f"//label[normalize-space()={xpath_str(label)}]")), f"label {label!r}")
        el = self.d.find_element(By.ID, lab.get_attribute("for"))
        el.clear()
        el.send_keys(value)

    def heading(self, text: str) -> None:
        self.text_in("main h1", text)

    def alert(self, text: str) -> None:
        self.wait(lambda d: (el := d.find_element(By.ID, "alert")).is_displayed()
                  and text in el.text, f"the alert to say {text!r}")

    # -- every step
    def shot(self, name: str) -> None:
        self.step_no += 1
        self.d.save_screenshot(str(self.out / f"{self.step_no:02d}-{name}.png"))
        self.hygiene(name)
        print(f"console-check: {self.step_no:02d} {name}: ok", flush=True)

    def hygiene(self, name: str) -> None:
        """No token in the URL or a cookie; no CSP violation or script error logged."""
        url = self.d.current_url
        cookies = self.d.get_cookies()
        for secret in self.secrets:
            if secret in url:
                raise StepFailed(f"{name}: a token is in the URL")
        if cookies:
            raise StepFailed(f"{name}: the page set cookies {cookies}")
        for entry in self.d.get_log("browser"):
            msg = entry.get("message", "")
            if "Content Security Policy" in msg or entry.get("level") == "SEVERE" and (
                "console.js" in msg or "Uncaught" in msg
            ):
                raise StepFailed(f"{name}: the browser logged {msg}")

    def session_token(self) -> str | None:
        return self.d.execute_script("return sessionStorage.getItem('roster.console.token')")


def xpath_str(s: str) -> str:
    return f"'{s}'" if "'" not in s else f'"{s}"'


def seed(host: RosterHost) -> dict:
    """Two organizations: `acme` (removals permanent) with its `*` token and users, and
    `beta` (a 7-day restore window) with one user."""
    admin = host.admin
    # removalBatch 2: a removal with more dependents than that goes on asynchronously.
    acme = host.must(201, "POST", "/v1/organizations", admin,
                     {"name": "Acme", "slug": "acme", "policy": {"removalBatch": 2}})
    beta = host.must(201, "POST", "/v1/organizations", admin,
                     {"name": "Beta", "slug": "beta", "policy": {"retentionDays": 7}})
    token = host.must(201, "POST", f"/v1/organizations/{acme['id']}/tokens", admin,
                      {"name": "console", "permissions": ["*"]})["secret"]
    base = f"/v1/organizations/{acme['id']}/mdm/users"
    ids = {}
    people = [("alice", "Alice", "Archer"), ("bob", "Bob", "Baker"), ("carol", "Carol", "Cooper"),
              ("dave", "Dave", "Dyer"), ("erin", "Erin", "Evans"), ("frank", "Frank", "Fisher"),
              ("gina", "Gina", "Gray")]
    for username, first, last in people:
        u = host.must(201, "POST", base, token, {"username": username, "email": f"{username}@acme.example",
                                                 "firstName": first, "lastName": last})
        ids[username] = u["id"]
    alice = f"{base}/{ids['alice']}"
    host.must(201, "POST", f"{alice}/devices", token,
              {"name": "Alice's phone", "type": "android", "deviceIdentifier": "A-0001"})
    host.must(201, "POST", f"{alice}/enrollment-tokens", token, {})
    host.must(201, "POST", f"{alice}/subscriptions", token, {"scope": "/products/starter", "displayName": "Starter"})
    host.must(201, "POST", f"/v1/organizations/{acme['id']}/tokens", token,
              {"name": "alice-ci", "permissions": ["mdm.global.mdmUser.read"], "ownerUserId": ids["alice"]})
    host.must(201, "POST", f"/v1/organizations/{acme['id']}/mdm/groups", token, {"name": "admins"})
    host.must(200, "PUT", f"{alice}/groups", token, {"groups": ["admins"]})
    for who in ["frank", "gina"]:
        for i in range(7):
            host.must(201, "POST", f"{base}/{ids[who]}/devices", token,
                      {"name": f"{who.title()}'s tablet {i}", "type": "ios",
                       "deviceIdentifier": f"{who[0].upper()}-{i:04}",
                       "enrolmentInfo": {"status": "INACTIVE"}})
    # A token that may do everything to users but read removal operations.
    no_ops = host.must(201, "POST", f"/v1/organizations/{acme['id']}/tokens", token,
                       {"name": "no-operations", "permissions": [
                           f"mdm.global.{r}.*" for r in
                           ["mdmUser", "device", "enrollmentToken", "group", "token", "subscription",
                            "audit", "legalHold"]]})["secret"]
    dana = host.must(201, "POST", f"/v1/organizations/{beta['id']}/mdm/users", admin,
                     {"username": "dana", "email": "dana@beta.example", "firstName": "Dana", "lastName": "Dale"})
    return {"acme": acme["id"], "beta": beta["id"], "token": token, "ids": ids, "dana": dana["id"],
            "no_ops": no_ops}


def scenario(c: Console, host: RosterHost, s: dict) -> None:
    d = c.d
    c.secrets = [s["token"], host.admin, s["no_ops"]]
    acme_users = f"/v1/organizations/{s['acme']}/mdm/users"

    # A bad token: refused in words, nothing kept.
    d.get(host.url + "/console")
    c.heading("Sign in")
    c.fill("API token", "rst_" + "0" * 64)
    c.fill("Organization (id or slug)", "acme")
    c.click(button="Sign in")
    c.alert("This API token is not valid")
    if c.session_token():
        raise StepFailed("a refused token was kept in sessionStorage")
    c.shot("bad-token")

    # Sign in with the organization's token.
    c.fill("API token", s["token"])
    c.fill("Organization (id or slug)", "acme")
    c.click(button="Sign in")
    c.heading("Users")
    c.text_in("#user-count", "7 users")
    c.text_in("table", "frank")
    if c.session_token() != s["token"]:
        raise StepFailed("the token is not in sessionStorage")
    c.shot("signed-in")

    # Search.
    c.fill("Search", "ali")
    c.click(button="Search")
    c.wait(lambda d: "bob" not in d.find_element(By.CSS_SELECTOR, "main table").text
           and "alice" in d.find_element(By.CSS_SELECTOR, "main table").text, "only alice listed")
    c.shot("search")

    # Open a user: profile, groups, devices, tokens, subscriptions, owned API tokens.
    c.click(link="alice")
    c.heading("User alice")
    c.text_in("#devices", "ACTIVE")
    c.text_in("#enrollment-tokens", "pending")
    for text in ["admins", "/products/starter", "alice-ci"]:
        c.text_in("main", text)
    c.shot("user")

    # A blocked removal: the dry run names both blockers, each with its fix.
    c.click("#remove")
    c.text_in("#dry-run", "What blocks it")
    c.text_in("#dry-run", "active devices (code 5054)")
    c.text_in("#dry-run", "pending enrollment tokens (code 5055)")
    d.execute_script("document.querySelector('#dry-run ul.blockers').scrollIntoView({block: 'center'})")
    c.shot("removal-blocked")
    c.click(button="Deactivate the active devices")
    c.wait(lambda d: "5054" not in d.find_element(By.ID, "dry-run").text, "5054 cleared")
    c.text_in("#dry-run", "(code 5055)")
    c.text_in("#devices", "INACTIVE")
    d.execute_script("document.querySelector('#dry-run ul.blockers').scrollIntoView({block: 'center'})")
    c.shot("removal-devices-cleared")
    c.click(button="Revoke the pending enrollment tokens")
    c.text_in("#dry-run", "It would remove")
    c.click(button="Continue")
    c.text_in("#confirm", "Really remove alice?")
    c.shot("removal-confirm")
    c.click(button="Yes, remove alice")
    c.text_in("#removed", "alice was removed")
    c.text_in("#removed", "permanent")
    c.shot("removal-done")
    status, _, _ = host.call("GET", f"{acme_users}/{s['ids']['alice']}", s["token"])
    if status != 404:
        raise StepFailed(f"alice still answers {status} after her removal")

    # An If-Match conflict: bob changed through the API while his page is open.
    c.click(link="Back to the users")
    c.heading("Users")
    c.click(link="bob")
    c.heading("User bob")
    c.fill("First name", "Robert")
    host.must(200, "PATCH", f"{acme_users}/{s['ids']['bob']}", s["token"], {"lastName": "Brewer"})
    c.click(button="Save changes")
    c.alert("Someone else changed this user")
    c.shot("conflict")
    c.click(button="Reload the user")
    c.heading("User bob")
    c.wait(lambda d: d.find_element(By.NAME, "lastName").get_attribute("value") == "Brewer",
           "the reloaded last name")
    c.fill("First name", "Robert")
    c.click(button="Save changes")
    c.text_in("#status", "Saved bob")
    c.shot("conflict-reloaded-and-saved")
    _, bob, _ = host.call("GET", f"{acme_users}/{s['ids']['bob']}", s["token"])
    if (bob["data"]["firstName"], bob["data"]["lastName"]) != ("Robert", "Brewer"):
        raise StepFailed(f"bob is {bob}")

    # A field error named in words.
    c.fill("Country code", "Germany")
    c.click(button="Save changes")
    c.alert("Country code (countryCode) is not valid")
    c.wait(lambda d: d.find_element(By.NAME, "countryCode").get_attribute("aria-invalid") == "true",
           "the country code marked invalid")
    c.shot("field-error")

    # A legal hold placed from the user's page (a bad number of days named first), named
    # by the dry run with no one-click lift, then lifted from its panel.
    c.click(link="Back to the users")
    c.heading("Users")
    c.click(link="carol")
    c.heading("User carol")
    c.text_in("#hold", "No legal hold")
    c.fill("Reason", "Matter 12")
    c.fill("Days", "0")
    c.click(button="Place legal hold")
    c.alert("Days (days) is not valid")
    c.fill("Days", "30")
    c.click(button="Place legal hold")
    c.text_in("#hold", "Held")
    c.text_in("#hold", "Matter 12")
    _, held, _ = host.call("GET", f"{acme_users}/{s['ids']['carol']}/hold", s["token"])
    hold = held["data"]["hold"]
    if not (hold and hold["active"] and hold["reason"] == "Matter 12" and hold["until"]):
        raise StepFailed(f"carol's hold is {hold}")
    c.click("#remove")
    c.text_in("#dry-run", "under a legal hold")
    c.text_in("#dry-run", "(code 5059)")
    c.wait(lambda d: "Show the legal hold" in d.find_element(By.ID, "dry-run").text,
           "the blocker pointing at the hold panel")
    d.execute_script("document.querySelector('#dry-run ul.blockers').scrollIntoView({block: 'center'})")
    c.shot("legal-hold")
    c.click(button="Lift the hold")
    c.text_in("#hold", "No legal hold")
    c.click(button="Check again")
    c.text_in("#dry-run", "It would remove")
    c.shot("legal-hold-lifted")
    _, held, _ = host.call("GET", f"{acme_users}/{s['ids']['carol']}/hold", s["token"])
    if held["data"]["hold"] is not None:
        raise StepFailed(f"carol's hold outlived its lift: {held}")
    c.click(button="Cancel")

    # Export before erase: with the organization's policy on, the dry run names the
    # missing export (5060) and its fix exports the data (a file download) from the page.
    host.must(200, "PATCH", f"/v1/organizations/{s['acme']}", s["token"],
              {"policy": {"requireExportBeforeRemoval": True}})
    c.click("#remove")
    c.text_in("#dry-run", "(code 5060)")
    c.click(button="Export the user's data")
    c.text_in("#dry-run", "It would remove")
    c.text_in("#status", "Exported the data of carol")
    c.shot("export-before-erase")
    _, audit, _ = host.call("GET", f"/v1/organizations/{s['acme']}/audit?userId={s['ids']['carol']}",
                            s["token"])
    if "user.exported" not in [e["action"] for e in audit["data"]["events"]]:
        raise StepFailed(f"no user.exported event for carol: {audit}")
    host.must(200, "PATCH", f"/v1/organizations/{s['acme']}", s["token"],
              {"policy": {"requireExportBeforeRemoval": False}})
    c.click(button="Cancel")

    # A scheduled removal: set from the page (a bad date named first), shown, cancelled.
    c.click(button="Schedule removal")
    c.alert("Remove at (at) is not valid")
    el = d.find_element(By.CSS_SELECTOR, "#schedule input[name='at']")
    d.execute_script("arguments[0].value = arguments[1]", el, "2031-03-01T09:30")
    c.fill("Warn days before", "7")
    c.click(button="Schedule removal")
    c.text_in("#schedule", "Scheduled:")
    c.text_in("#schedule", "Warning")
    c.shot("scheduled-removal")
    _, got, _ = host.call("GET", f"{acme_users}/{s['ids']['carol']}/removal-schedule", s["token"])
    sched = got["data"]["schedule"]
    if not (sched and sched["at"].startswith("2031-03-01") and sched["warnAt"].startswith("2031-02-22")):
        raise StepFailed(f"carol's schedule is {sched}")
    c.click(button="Cancel the scheduled removal")
    c.text_in("#schedule", "No removal scheduled")
    _, got, _ = host.call("GET", f"{acme_users}/{s['ids']['carol']}/removal-schedule", s["token"])
    if got["data"]["schedule"] is not None:
        raise StepFailed(f"carol's schedule outlived its cancel: {got}")

    # Bulk removal of a selection: a result per user.
    c.click(link="Back to the users")
    c.heading("Users")
    c.click("input[aria-label='Select dave']")
    c.click("input[aria-label='Select erin']")
    c.click(button="Remove selected (2)")
    c.click(button="Yes, remove 2 users")
    c.text_in("#bulk", "2 of 2 removed")
    c.shot("bulk-removal")

    # An asynchronous removal: frank's 7 devices, 2 per request; a progress bar from the
    # operation until it finishes.
    c.click(link="frank")
    c.heading("User frank")
    c.click("#remove")
    c.text_in("#dry-run", "It would remove")
    c.click(button="Continue")
    c.click(button="Yes, remove frank")
    c.text_in("#progress", "Removing frank")
    c.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#progress progress").get_attribute("max") not in (None, "1"),
           "the progress bar sized by the operation")
    c.shot("async-removal-progress")
    c.text_in("#removed", "frank was removed")
    c.shot("async-removal-done")
    status, _, _ = host.call("GET", f"{acme_users}/{s['ids']['frank']}", s["token"])
    if status != 404:
        raise StepFailed(f"frank still answers {status} after his removal")
    c.click(link="Back to the users")
    c.heading("Users")

    # The organization's audit log.
    c.click(link="Audit")
    c.heading("Audit")
    c.text_in("main table", "user.removed")
    c.shot("audit")

    # An asynchronous removal by a token that may not read operations: the page drives
    # it by repeating the DELETE and still shows its progress to the end.
    c.click(button="Sign out")
    c.heading("Sign in")
    if c.session_token():
        raise StepFailed("the token outlived sign-out")
    c.fill("API token", s["no_ops"])
    c.fill("Organization (id or slug)", "acme")
    c.click(button="Sign in")
    c.heading("Users")
    c.click(link="gina")
    c.heading("User gina")
    c.click("#remove")
    c.text_in("#dry-run", "It would remove")
    c.click(button="Continue")
    c.click(button="Yes, remove gina")
    c.text_in("#progress", "Removing gina")
    c.text_in("#removed", "gina was removed")
    c.shot("async-removal-without-operation-read")
    status, _, _ = host.call("GET", f"{acme_users}/{s['ids']['gina']}", s["token"])
    if status != 404:
        raise StepFailed(f"gina still answers {status} after her removal")

    # Sign out; a global token picks an organization; a soft removal and its restore.
    c.click(button="Sign out")
    c.heading("Sign in")
    if c.session_token():
        raise StepFailed("the token outlived sign-out")
    c.fill("API token", host.admin)
    c.click(button="Sign in")
    c.heading("Organizations")
    c.click(button="Open beta")
    c.heading("Users")
    c.click(link="dana")
    c.heading("User dana")
    c.click("#remove")
    c.text_in("#dry-run", "The removal is soft")
    c.click(button="Continue")
    c.click(button="Yes, remove dana")
    c.text_in("#removed", "It can be restored until")
    c.text_in("#user-status", "deleted")
    c.shot("soft-removal")
    status, _, _ = host.call("GET", f"/v1/organizations/{s['beta']}/mdm/users/{s['dana']}", host.admin)
    if status != 404:
        raise StepFailed(f"dana answers {status} after her soft removal")
    c.click(link="Back to the users")
    c.heading("Users")
    sel = c.d.find_element(By.ID, "f-status")
    sel.find_element(By.CSS_SELECTOR, "option[value='deleted']").click()
    c.click(button="Search")
    c.text_in("main table", "until")
    c.shot("soft-removed-list")
    c.click(button="Restore dana")
    c.heading("User dana")
    c.text_in("#user-status", "active")
    c.shot("restored")

    # 375 px wide: the users page fits, nothing scrolls sideways.
    d.set_window_size(375, 812)
    c.click(link="Users")
    c.heading("Users")
    time.sleep(0.3)
    width = d.execute_script("return document.documentElement.clientWidth")
    scroll = d.execute_script("return document.documentElement.scrollWidth")
    if scroll > width:
        raise StepFailed(f"the users page is {scroll} px wide in a {width} px window")
    c.shot("narrow-375px")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "target" / "console-check")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.monotonic()
    try:
        host_cm = RosterHost(out)
        print(f"console-check: starting roster-host on {host_cm.url} (log: {out / 'server.log'})",
              flush=True)
        with host_cm as host:
            s = seed(host)
            driver = browser(1280, 900)
            try:
                c = Console(driver, host, out)
                try:
                    scenario(c, host, s)
                except (StepFailed, WebDriverException) as e:
                    c.step_no += 1
                    driver.save_screenshot(str(out / f"{c.step_no:02d}-FAILED.png"))
                    print(f"console-check: FAILED at step {c.step_no}: {e}", file=sys.stderr)
                    traceback.print_exc()
                    return 1
            finally:
                driver.quit()
    except (SetupError, WebDriverException) as e:
        print(f"console-check: cannot set up: {e}", file=sys.stderr)
        return 2
    print(f"console-check: every step passed in {time.monotonic() - started:.0f} s; "
          f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

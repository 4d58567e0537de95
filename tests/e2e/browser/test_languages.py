"""The sign-in and account pages in each of their languages (issue 27, "Languages"), in headless
Chromium: the sign-in page's first two steps and the account page's first view render with no
missing key, Arabic is laid out right to left, axe-core finds nothing serious; the locale follows
?lang=, then the remembered choice, then Accept-Language."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import urlencode

import pytest

from tests.e2e.browser.conftest import DESKTOP, ROOT, axe_violations
from tests.e2e.browser.steps import PASSWORD, page_url, wait_for_state
from tests.support.client import Api
from tests.support.otp import fresh_code
from tests.support.smtp import SmtpServer, code_of
from tests.support.waiting import eventually

LOCALES = {"en": "Sign in", "de": "Anmelden", "fr": "Se connecter", "es": "Iniciar sesión", "ja": "サインイン",
           "ar": "تسجيل الدخول"}
SECOND_STEP = {"en": "Add a second step to your sign-in", "de": "Fügen Sie Ihrer Anmeldung einen zweiten Schritt hinzu",
               "fr": "Ajoutez une deuxième étape à votre connexion", "es": "Añade un segundo paso a tu inicio de sesión",
               "ja": "サインインに 2 つ目のステップを追加", "ar": "أضف خطوة ثانية إلى تسجيل دخولك"}


async def record_words(page) -> None:
    """Have the page keep every text its catalogues give (``untranslated`` reads them)."""
    await page.add_init_script("globalThis.__mfaFlowI18nRecord = true")


async def untranslated(page, *data: str) -> list[str]:
    """The visible text and accessible names on the page that its catalogues did not give: each
    text node (and aria-label, title, placeholder, alt) with every catalogue text and every piece
    of ``data`` (a username, an address) taken out must have no word left. Text inside an element
    with a ``lang`` of its own (the picker's language names) and inside ``code`` (backup codes, a
    set-up key) is not in the page's language and is left alone."""
    return await page.evaluate("""(data) => {
        const pieces = new Set(["mfa-flow", ...data]);
        for (const text of __mfaFlowI18n.said) text.split(/\\{\\w+\\}/).forEach((piece) => pieces.add(piece.trim()));
        const known = [...pieces].filter((piece) => piece).sort((a, b) => b.length - a.length);
        const leftover = (text) => known.reduce((rest, piece) => rest.split(piece).join(" "), text);
        const foreign = (el) => el.closest("code, script, style, noscript") || (el.closest("[lang]") !== document.documentElement);
        const found = [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const el = node.parentElement;
            if (foreign(el) || !el.checkVisibility()) continue;
            if (/\\p{L}{2,}/u.test(leftover(node.textContent))) found.push(node.textContent.trim());
        }
        for (const el of document.body.querySelectorAll("[aria-label], [title], [placeholder], [alt]")) {
            if (foreign(el)) continue;
            for (const name of ["aria-label", "title", "placeholder", "alt"]) {
                const value = el.getAttribute(name);
                if (value && /\\p{L}{2,}/u.test(leftover(value))) found.push(`${name}=${value}`);
            }
        }
        return found;
    }""", list(data))


async def sign_in_in(page, server, path: str, code: str, username: str) -> None:
    """Open ``path`` (in the language ``code``), keeping its words, and sign in with a password."""
    await record_words(page)
    await page.goto(page_url(server, path))
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(PASSWORD)
    await page.get_by_role("button", name=LOCALES[code], exact=True).click()


async def i18n_state(page) -> dict:
    return await page.evaluate("""() => ({locale: __mfaFlowI18n.locale, missing: [...__mfaFlowI18n.missing],
        lang: document.documentElement.lang, dir: document.documentElement.dir,
        direction: getComputedStyle(document.body).direction})""")


@pytest.mark.parametrize("code", list(LOCALES))
async def test_the_first_two_steps_in_each_language(api, server, page, shots, code):
    await api.configure(["totp", "webauthn", "sms_code"], "mandatory")
    user = await api.new_user(f"lang-{code}-{uuid.uuid4().hex[:6]}")
    await record_words(page)
    await page.goto(page_url(server, f"/?lang={code}"))
    submit = page.get_by_role("button", name=LOCALES[code], exact=True)
    await submit.wait_for()
    state = await i18n_state(page)
    rtl = code == "ar"
    assert state == {"locale": code, "missing": [], "lang": code, "dir": "rtl" if rtl else "ltr",
                     "direction": "rtl" if rtl else "ltr"}
    if rtl:  # laid out right to left: the form's fields start at the right
        field = await page.locator("#username").bounding_box()
        label = await page.locator("label[for=username]").bounding_box()
        assert label["x"] + label["width"] > field["x"] + field["width"] - 2
    assert await untranslated(page) == []
    assert await axe_violations(page) == []
    await shots.take(page, f"{code}-first-step")

    await page.locator("#username").fill(user["username"])
    await page.locator("#password").fill(PASSWORD)
    await submit.click()
    await wait_for_state(page, "factor_selection")
    await page.get_by_role("heading", name=SECOND_STEP[code]).wait_for()
    assert (await i18n_state(page))["missing"] == []
    assert await untranslated(page) == []
    assert await axe_violations(page) == []
    await shots.take(page, f"{code}-second-step")

    # Each set-up step that follows (an authenticator app's, a passkey's, a phone number's) in
    # the language too.
    words = json.loads((ROOT / "mfa_flow" / "web" / "i18n" / f"{code}.json").read_text(encoding="utf-8"))
    for factor in ("totp", "webauthn", "sms_code"):
        await page.locator("ul.choices button").filter(has_text=words[f"factor.{factor}.name"]).click()
        await wait_for_state(page, f"{factor}_setup")
        assert await untranslated(page) == []
        assert (await i18n_state(page))["missing"] == []
        await page.get_by_role("button", name=words["action.switch_factor"], exact=True).click()
        await wait_for_state(page, "factor_selection")


async def test_accept_language_then_the_remembered_choice_then_lang(browser, server, console):
    context = await browser.new_context(viewport=DESKTOP, locale="de-DE")  # Accept-Language: de-DE
    page = await context.new_page()
    page.on("pageerror", lambda error: console.seen(f"uncaught: {error}"))
    try:
        response = await page.goto(page_url(server))
        assert response.headers["content-language"] == "de" and "Accept-Language" in response.headers["vary"]
        await page.get_by_role("button", name="Anmelden", exact=True).wait_for()
        # The picker remembers a choice, which then wins over Accept-Language ...
        await page.get_by_label("Sprache").select_option("fr")
        await page.get_by_role("button", name="Se connecter", exact=True).wait_for()
        await page.goto(page_url(server))
        await page.get_by_role("button", name="Se connecter", exact=True).wait_for()
        assert (await i18n_state(page))["locale"] == "fr"
        # ... and ?lang= (or OpenID Connect's ui_locales) wins over both.
        await page.goto(page_url(server, "/?ui_locales=ja-JP%20en"))
        await page.get_by_role("button", name="サインイン", exact=True).wait_for()
    finally:
        await context.close()
    assert console.unexpected() == []


async def test_the_server_picks_the_page_language_from_accept_language_then_the_default(start_server, http):
    server = await start_server.started(MFA_FLOW_DEFAULT_LOCALE="fr")
    for header, lang, direction, path, title in (
            (None, "fr", "ltr", "/", "<title>Connexion · mfa-flow</title>"),
            ("ar-EG, en;q=0.5", "ar", "rtl", "/", "<title>تسجيل الدخول · mfa-flow</title>"),
            ("pt-BR", "fr", "ltr", "/", "<title>Connexion · mfa-flow</title>"),
            ("de", "de", "ltr", "/account", "<title>Ihr Konto · mfa-flow</title>"),
            ("ja", "ja", "ltr", "/account", "<title>アカウント · mfa-flow</title>")):
        async with http.get(page_url(server, path), headers={"Accept-Language": header} if header else {}) as reply:
            html = await reply.text()
            assert reply.headers["Content-Language"] == lang
        assert f'<html lang="{lang}" dir="{direction}">' in html
        assert title in html and "{{" not in html  # the words before the script runs, in the language
    async with http.get(page_url(server, "/console")) as reply:  # the console stays English
        assert '<html lang="en" data-english-only>' in await reply.text()


@pytest.mark.parametrize("code,words", [
    ("de", "Benutzername oder Passwort ist falsch. Noch 4 Versuche."),
    ("ar", "اسم المستخدم أو كلمة المرور غير صحيحة. تتبقى 4 محاولات."),
])
async def test_a_refusal_is_said_in_the_page_language_with_its_plural(api, server, page, code, words):
    await page.goto(page_url(server, f"/?lang={code}"))
    await page.locator("#username").fill(f"nobody-{uuid.uuid4().hex[:6]}")
    await page.locator("#password").fill("wrong")
    await page.get_by_role("button", name=LOCALES[code], exact=True).click()
    error = page.locator("#error")
    await error.wait_for()
    assert await error.inner_text() == words
    assert (await i18n_state(page))["missing"] == []


ACCOUNT = {"en": ("Your account", "Verify"), "de": ("Ihr Konto", "Bestätigen"), "fr": ("Votre compte", "Vérifier"),
           "es": ("Tu cuenta", "Verificar"), "ja": ("アカウント", "確認"), "ar": ("حسابك", "تحقق")}


@pytest.mark.parametrize("code", list(ACCOUNT))
async def test_the_account_page_in_each_language(api, server, page, shots, code):
    """The account page's first view (after its sign-in, which asks for an authenticator code)
    has a word for every key, the day a method was added written as the locale writes it,
    Arabic laid out right to left, and nothing serious for axe-core."""
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(f"acct-{code}-{uuid.uuid4().hex[:6]}")
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]
    await sign_in_in(page, server, f"/account?lang={code}", code, user["username"])
    await wait_for_state(page, "totp_verify")
    assert await untranslated(page) == []
    await page.locator("#code").fill(await fresh_code(secret))
    await page.get_by_role("button", name=ACCOUNT[code][1], exact=True).click()
    heading, _ = ACCOUNT[code]
    await page.get_by_role("heading", name=heading, exact=True).wait_for()
    await page.locator("#methods .method").first.wait_for()

    state = await i18n_state(page)
    rtl = code == "ar"
    assert state == {"locale": code, "missing": [], "lang": code, "dir": "rtl" if rtl else "ltr",
                     "direction": "rtl" if rtl else "ltr"}
    assert await page.title() == f"{heading} · mfa-flow"
    assert await untranslated(page) == []
    assert await page.locator("#language").input_value() == code
    # "Added <day>, never used": the day in the locale's own words (today's, or yesterday's
    # when the test runs across midnight).
    days = await page.evaluate("""(code) => [0, 1].map((back) => new Intl.DateTimeFormat(code,
        {year: "numeric", month: "short", day: "numeric"}).format(new Date(Date.now() - back * 86400000)))""", code)
    hint = await page.locator("#methods .method .hint").inner_text()
    assert any(day in hint for day in days), (hint, days)
    await shots.take(page, f"{code}-account")
    if rtl:  # the method's name and its first button start at the right edge, not the left
        method = await page.locator("#methods .method").bounding_box()
        right = method["x"] + method["width"]
        for part in ("strong", ".tools button"):
            box = await page.locator(f"#methods .method {part}").first.bounding_box()
            assert right - 10 <= box["x"] + box["width"] <= right + 1 and box["x"] > method["x"] + 10, part
    assert await axe_violations(page) == []
    # The question before removing the app, in the language too; the person keeps it.
    await page.locator("#methods .method .tools button").last.click()
    await page.locator("dialog #confirm-no").wait_for()
    assert await untranslated(page) == []
    await page.locator("dialog #confirm-no").click()
    await page.locator("dialog").wait_for(state="detached")


async def test_the_account_page_remembers_the_language_picked_there(api, server, page):
    await page.goto(page_url(server, "/account"))
    await page.get_by_label("Language").select_option("ja")
    await page.get_by_role("button", name="サインイン", exact=True).wait_for()
    assert (await i18n_state(page))["locale"] == "ja"
    for path in ("/account", "/"):  # one choice for both pages
        await page.goto(page_url(server, path))
        await page.get_by_role("button", name="サインイン", exact=True).wait_for()
        assert (await i18n_state(page))["missing"] == []


@pytest.mark.parametrize("code", ["de", "fr", "es", "ja", "ar"])
async def test_the_email_code_steps_and_the_backup_code_sheet_in_each_language(start_server, http, page, shots, code):
    """Adding an email address, entering its code, and the backup-code sheet: every word from
    the page's catalogue (none left in English), the email in the page's language, axe clean."""
    smtp = SmtpServer()
    smtp.start()
    try:
        server = await start_server.started(MFA_FLOW_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}")
        api = Api(server.base_url, http)
        await api.configure(["email_code", "backup_code"], "mandatory")
        user = await api.new_user(f"mail-{code}-{uuid.uuid4().hex[:6]}")
        address = f"{uuid.uuid4().hex[:10]}@example.com"
        await sign_in_in(page, server, f"/?lang={code}", code, user["username"])
        await wait_for_state(page, "email_code_setup")
        await page.locator("#email").wait_for()
        assert await untranslated(page) == []
        await page.locator("#email").fill(address)
        await page.locator("form button[type=submit]").click()
        await page.locator("#code").wait_for()
        await page.locator("#resend-wait").filter(has_text=re.compile(r"\S")).wait_for()  # the countdown
        assert await untranslated(page, address[0] + "***@example.com") == []
        assert await axe_violations(page) == []
        await shots.take(page, f"{code}-check-your-email")

        (message,) = await eventually(lambda: smtp.mailbox.to(address))
        assert message["Content-Language"] == code  # the page's language: the user has none of their own
        await page.locator("#code").fill(code_of(message))
        await page.locator("form button[type=submit]").click()
        await wait_for_state(page, "backup_codes")
        assert await untranslated(page) == []
        assert await axe_violations(page) == []
        await shots.take(page, f"{code}-backup-codes")
        await page.locator("#saved").check()
        await page.locator("form button[type=submit]").click()
        await wait_for_state(page, "done")
        assert await untranslated(page) == []
        # Managing the sign-in methods goes on in the same language, whatever chose it here.
        assert await page.locator("a.button[href^='/account']").get_attribute("href") == f"/account?lang={code}"
        assert (await i18n_state(page))["missing"] == []
    finally:
        smtp.stop()


async def test_the_authorization_endpoint_s_error_page_is_in_the_request_language(server, http):
    """A bad client_id gets an error page (nothing may go back to the app): its words in
    ui_locales, else Accept-Language; the error's own description stays English, marked so."""
    for headers, asked, lang, direction, heading in (
            ({"Accept-Language": "de-DE"}, {}, "de", "ltr", "Diese Anmeldeanfrage kann nicht verwendet werden"),
            ({"Accept-Language": "de"}, {"ui_locales": "ar-EG en"}, "ar", "rtl", "لا يمكن استخدام طلب تسجيل الدخول هذا"),
            ({}, {}, "en", "ltr", "This sign-in request cannot be used")):
        query = urlencode({"client_id": "cl_nobody", "redirect_uri": "http://127.0.0.1:9/cb", "response_type": "code",
                           **asked})
        async with http.get(page_url(server, f"/oidc/authorize?{query}"), headers=headers) as reply:
            html = await reply.text()
            assert reply.status == 400 and reply.headers["Content-Language"] == lang
        assert f'<html lang="{lang}" dir="{direction}">' in html and f"<h1>{heading}</h1>" in html
        assert 'lang="en">no client &#x27;cl_nobody&#x27; is registered.</p>' in html
        assert "{{" not in html

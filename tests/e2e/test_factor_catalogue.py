"""GET /api/factors (issue 27): the factor catalogue, with its words in the request's language."""

from __future__ import annotations


async def test_the_catalogue_lists_every_factor_with_words_in_the_request_language(api):
    await api.configure(["webauthn", "totp", "backup_code"], "mandatory")
    reply = await api.call("GET", "/api/factors")
    assert reply.status == 200 and reply.headers["Content-Language"] == "en"
    items = reply.body["items"]
    assert [i["name"] for i in items] == ["totp", "webauthn", "email_code", "sms_code", "backup_code"]
    by_name = {i["name"]: i for i in items}
    assert by_name["webauthn"] == {"name": "webauthn", "kind": "primary", "amr": ["hwk"], "enabled": True,
                                   "title": "Passkey", "hint": "Your fingerprint, face, screen lock or a security key"}
    assert (by_name["backup_code"]["kind"], by_name["sms_code"]["enabled"]) == ("backup", False)

    german = await api.call("GET", "/api/factors", headers={"Accept-Language": "de-CH, en;q=0.5"})
    assert german.headers["Content-Language"] == "de"
    assert {i["name"]: i["title"] for i in german.body["items"]}["totp"] == "Authenticator-App"
    arabic = await api.call("GET", "/api/factors?lang=ar", headers={"Accept-Language": "de"})
    assert arabic.headers["Content-Language"] == "ar"
    assert {i["name"]: i["title"] for i in arabic.body["items"]}["webauthn"] == "مفتاح المرور"
    japanese = await api.call("GET", "/api/factors?ui_locales=xx%20ja-JP")
    assert {i["name"]: i["hint"] for i in japanese.body["items"]}["sms_code"] == "電話に送られる 6 桁のコード"

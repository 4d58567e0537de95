"""No TOTP seed, backup code, password or flow token is stored or logged in clear."""

from __future__ import annotations

import subprocess

from tests.support.names import unique
from tests.support.otp import fresh_code


async def test_a_database_dump_and_the_server_log_hold_no_secret(api, server, test_database):
    await api.configure(["totp", "backup_code"], "mandatory")
    password = "Tr0ub4dor&3-unique-password"
    user = await api.new_user(unique("sec"), password=password)
    flow = await api.start()
    await flow.password(user["username"], password)
    secret = flow.flow["challenge"]["secret"]
    code = await fresh_code(secret)
    await flow.ok("submit_totp", code=code)
    codes = flow.flow["challenge"]["codes"]
    await flow.ok("acknowledge_backup_codes")
    admin_secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "backup_code"})).body

    dump = subprocess.run(
        [test_database.pg_dump(), "--data-only", test_database.url], capture_output=True, text=True, check=True
    ).stdout
    assert user["username"] in dump, "the dump is real and holds the user"
    log = server.log()
    assert flow.id in log, "the log is real and names the flow"
    forbidden = [password, secret, secret.lower(), flow.token, *codes, *admin_secret["codes"]]
    forbidden += [c.replace("-", "") for c in codes]
    for text, where in ((dump, "database dump"), (log, "server log")):
        for value in forbidden:
            assert value not in text, f"a secret is in the {where}"
    assert f'"{code}"' not in log, "the TOTP code is in the server log"

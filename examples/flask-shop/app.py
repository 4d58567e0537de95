"""A small shop with its own password sign-in that adds mfa-flow as its second step over
OpenID Connect, with authlib. The shop checks the password; mfa-flow (an "asserting" client
registration) then runs set-up or verification and sends the browser back signed in.

    MFA_FLOW_URL=http://localhost:8080 CLIENT_ID=cl_... CLIENT_SECRET=cs_... \\
        flask --app app run --port 5000          # redirect URI: http://127.0.0.1:5000/callback
"""

import os
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask, abort, redirect, render_template_string, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

app = Flask(__name__)
app.secret_key = os.environ.get("SECRET_KEY") or secrets.token_hex(32)
USERS = {"alice": generate_password_hash("wonderland")}  # the shop's own accounts

oauth = OAuth(app)
mfa = oauth.register(
    "mfa_flow",
    client_id=os.environ["CLIENT_ID"],
    client_secret=os.environ["CLIENT_SECRET"],
    server_metadata_url=os.environ["MFA_FLOW_URL"] + "/.well-known/openid-configuration",
    client_kwargs={"scope": "openid", "code_challenge_method": "S256"},
)

PAGE = """<!doctype html><title>Shop</title><link rel="icon" href="data:,"><h1>Shop</h1>
{% if user %}<p id="who">Signed in as {{ user.sub }} with {{ user.acr }} ({{ user.amr|join(", ") }})</p>
<form method="post" action="/verify-again"><button>Verify it is me again</button></form>
<form method="post" action="/logout"><button>Sign out</button></form>
{% else %}<form method="post" action="/login"><label>Username <input name="username"></label>
<label>Password <input name="password" type="password"></label><button>Sign in</button></form>{% endif %}"""


@app.get("/")
def home():
    return render_template_string(PAGE, user=session.get("user"))


@app.post("/login")
def login():
    username, password = request.form.get("username", ""), request.form.get("password", "")
    if username not in USERS or not check_password_hash(USERS[username], password):
        abort(401)
    return second_step(username)


@app.post("/verify-again")
def verify_again():  # max_age=0: a second factor now, whatever mfa-flow's policy would say
    return second_step(session["user"]["sub"], max_age="0")


def second_step(username, **extra):
    """Push the authorization request (PAR) naming the user whose password we checked, then
    send the browser to mfa-flow with its request_uri."""
    session["asserted"] = username
    begun = mfa.create_authorization_url(url_for("callback", _external=True), login_hint=username, **extra)
    mfa.save_authorize_data(redirect_uri=url_for("callback", _external=True), **begun)
    metadata = mfa.load_server_metadata()
    pushed = requests.post(metadata["pushed_authorization_request_endpoint"], data=parse_qsl(urlsplit(begun["url"]).query),
                           auth=(mfa.client_id, mfa.client_secret), timeout=10)
    pushed.raise_for_status()
    query = urlencode({"client_id": mfa.client_id, "request_uri": pushed.json()["request_uri"]})
    return redirect(f"{metadata['authorization_endpoint']}?{query}")


@app.get("/callback")
def callback():
    token = mfa.authorize_access_token()  # checks state, swaps the code (PKCE), validates the ID token
    claims = token["userinfo"]
    if claims["sub"] != session.pop("asserted", None):
        abort(403)  # mfa-flow vouched for someone else than the user whose password we checked
    session["user"] = {"sub": claims["sub"], "acr": claims["acr"], "amr": claims["amr"]}
    return redirect("/")


@app.post("/logout")
def logout():
    session.clear()
    return redirect("/")

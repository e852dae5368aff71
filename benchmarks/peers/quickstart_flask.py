"""The classic Twilio quickstart token server, the peer ``bench_token_endpoint.py`` measures.

What every Twilio Chat quickstart hand-writes: a Flask app whose ``/token`` route takes the
signed-in user's identity from Flask's signed session cookie and mints an Access Token with a
Chat grant using twilio-python's ``AccessToken``. The person signs in once through ``/login``
(one user, checked against a password from the environment: the app's "existing login").

Run it under gunicorn with sync workers, as the quickstarts deploy it::

    TWILIO_ACCOUNT_SID=AC… TWILIO_API_KEY=SK… TWILIO_API_SECRET=… \\
    TWILIO_CHAT_SERVICE_SID=IS… QUICKSTART_SECRET_KEY=… \\
    QUICKSTART_USERNAME=alice QUICKSTART_PASSWORD=… \\
    .venv/bin/gunicorn -w 2 -b 127.0.0.1:8000 --chdir benchmarks/peers quickstart_flask:app
"""

from __future__ import annotations

import hmac
import os

from flask import Flask, Response, jsonify, request, session
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant

ACCOUNT_SID = os.environ["TWILIO_ACCOUNT_SID"]
API_KEY = os.environ["TWILIO_API_KEY"]
API_SECRET = os.environ["TWILIO_API_SECRET"]
CHAT_SERVICE_SID = os.environ["TWILIO_CHAT_SERVICE_SID"]
USERNAME = os.environ["QUICKSTART_USERNAME"]
PASSWORD = os.environ["QUICKSTART_PASSWORD"]

app = Flask(__name__)
app.secret_key = os.environ["QUICKSTART_SECRET_KEY"]


@app.post("/login")
def login() -> tuple[Response, int] | Response:
    data = request.get_json(silent=True) or request.form
    username = str(data.get("username", ""))
    password = str(data.get("password", ""))
    if username != USERNAME or not hmac.compare_digest(password.encode(), PASSWORD.encode()):
        return jsonify(error="bad credentials"), 401
    session["identity"] = username
    return jsonify(identity=username)


@app.route("/token", methods=["GET", "POST"])
def token() -> tuple[Response, int] | Response:
    identity = session.get("identity")
    if identity is None:
        return jsonify(error="sign in first"), 401
    access_token = AccessToken(ACCOUNT_SID, API_KEY, API_SECRET, identity=identity)
    access_token.add_grant(ChatGrant(service_sid=CHAT_SERVICE_SID))
    return jsonify(identity=identity, token=access_token.to_jwt())

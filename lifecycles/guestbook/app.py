"""Guestbook: a small web application deployed by armonic (lifecycle Guestbook).

GET / shows the messages and a form, POST / (form field `message`) adds one, GET /entries
gives them as JSON. Every answer names the host that served it in its `X-Served-By` header,
so one can see which backend a load balancer chose.

The settings (database address, user, password, listening address) are read from the JSON
file named by GUESTBOOK_CONFIG, written by the lifecycle and readable by the application's
user only: never from the command line, where any user could read them.
"""

import html
import json
import os
import socket

import psycopg2
from flask import Flask, Response, jsonify, redirect, request

CONFIG = os.environ.get("GUESTBOOK_CONFIG", "/etc/armonic-guestbook/guestbook.json")
HOSTNAME = socket.gethostname()
MAX_MESSAGE = 1000
# Taken by whichever backend creates the table first, so that two backends starting
# together do not both try.
TABLE_LOCK = 0x6775657374

app = Flask(__name__)
_table_ready = False


def settings():
    with open(CONFIG, encoding="utf-8") as f:
        return json.load(f)


def connect():
    global _table_ready
    db = settings()["database"]
    conn = psycopg2.connect(
        host=db["host"],
        port=int(db["port"]),
        dbname=db["database"],
        user=db["user"],
        password=db["password"],
        connect_timeout=5,
        application_name="guestbook@" + HOSTNAME,
    )
    if not _table_ready:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (TABLE_LOCK,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS entries ("
                " id bigserial PRIMARY KEY,"
                " message text NOT NULL,"
                " served_by text NOT NULL,"
                " created timestamptz NOT NULL DEFAULT now())"
            )
        _table_ready = True
    return conn


def entries():
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT id, message, served_by, created FROM entries ORDER BY id DESC LIMIT 100"
            )
            return [
                {"id": i, "message": m, "served_by": s, "created": c.isoformat()}
                for i, m, s, c in cur.fetchall()
            ]
    finally:
        conn.close()


def add(message):
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO entries (message, served_by) VALUES (%s, %s)",
                (message, HOSTNAME),
            )
    finally:
        conn.close()


@app.after_request
def served_by(response):
    response.headers["X-Served-By"] = HOSTNAME
    return response


@app.errorhandler(psycopg2.Error)
def database_unavailable(error):
    app.logger.error("database error: %s", error)
    return Response("database unavailable\n", status=503, mimetype="text/plain")


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Guestbook</title></head>
<body>
<h1>Guestbook</h1>
<form method="post" action="/">
<input name="message" maxlength="%(max)d" autofocus> <button>Sign</button>
</form>
<ul>
%(items)s
</ul>
<p><small>Served by %(host)s</small></p>
</body></html>
"""


@app.get("/")
def index():
    items = "\n".join(
        "<li>%s <small>(%s, %s)</small></li>"
        % (html.escape(e["message"]), html.escape(e["served_by"]), e["created"])
        for e in entries()
    )
    body = PAGE % {"max": MAX_MESSAGE, "items": items, "host": html.escape(HOSTNAME)}
    return Response(body, mimetype="text/html")


@app.post("/")
def sign():
    message = request.form.get("message", "").strip()
    if not message:
        return Response("the form field 'message' is empty\n", status=400, mimetype="text/plain")
    if len(message) > MAX_MESSAGE:
        return Response(
            "a message is at most %d characters\n" % MAX_MESSAGE,
            status=400,
            mimetype="text/plain",
        )
    add(message)
    return redirect("/", code=303)


@app.get("/entries")
def list_entries():
    return jsonify(entries())

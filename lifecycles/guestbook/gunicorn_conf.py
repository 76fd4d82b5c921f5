"""gunicorn settings of the Guestbook: the address to listen on comes from the
application's configuration file (see app.py), written by the lifecycle."""

import json
import os

with open(
    os.environ.get("GUESTBOOK_CONFIG", "/etc/armonic-guestbook/guestbook.json"),
    encoding="utf-8",
) as _f:
    _config = json.load(_f)

bind = [_config["listen"]]
workers = int(_config.get("workers", 2))
accesslog = "-"
errorlog = "-"

"""Says whether the Guestbook really serves: GET /entries on the address it listens on must
answer 200 with a JSON list and an X-Served-By header (which needs its database). Exits 0 if
so, 1 with what went wrong otherwise. Run by the lifecycle (as root, who can read the
configuration file) until it succeeds."""

import json
import os
import sys
import urllib.request

CONFIG = os.environ.get("GUESTBOOK_CONFIG", "/etc/armonic-guestbook/guestbook.json")


def main():
    with open(CONFIG, encoding="utf-8") as f:
        url = "http://%s/entries" % json.load(f)["listen"]
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            served_by = r.headers.get("X-Served-By")
            json.load(r)
    except Exception as e:  # any failure is a "not yet", said as it is
        print("%s: %s" % (url, e), file=sys.stderr)
        return 1
    if not served_by:
        print("%s: no X-Served-By header" % url, file=sys.stderr)
        return 1
    print("%s: served by %s" % (url, served_by))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load a small Sigma-style AUDIT_LOGS into a Snowflake emulator (fakesnow).

Usage: python load_audit_logs.py [--port 8765] [--end 2026-11-25]

Creates SIGMA_AUDIT.AUDIT.AUDIT_LOGS (the columns of Sigma's audit log) and
fills the 7 days before --end (UTC, default today) with generated rows: the
same arguments always give the same rows. It needs the snowflake connector,
which `pip install 'fakesnow[server]'` installs.
"""

import argparse
import datetime as dt
import hashlib

import snowflake.connector

COLUMNS = [
    "REQUEST_TIME", "EVENT_CATEGORY", "EVENT_TYPE", "EVENT_STATUS", "EVENT_STATUS_REASON_CODE",
    "USER_ID", "USER_EMAIL", "USER_ROLE", "OBJECT_ID", "OBJECT_NAME", "IP_ADDRESS", "USER_AGENT",
    "REQUEST_ID", "SESSION_ID",
]
USERS = ["ada@example.com", "grace@example.com", "linus@example.com", "barbara@example.com"]
EVENTS = [
    ("AUTHENTICATION", "LOGIN"), ("AUTHENTICATION", "LOGIN"), ("AUTHENTICATION", "LOGOUT"),
    ("OBJECT_INTERACTION", "VIEW_WORKBOOK"), ("OBJECT_INTERACTION", "EXPORT_WORKBOOK"),
]


def rnd(*parts):
    h = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def rows(end):
    out = []
    for day in range(7, 0, -1):
        start = dt.datetime.combine(end - dt.timedelta(days=day), dt.time())
        for i in range(40):
            t = start + dt.timedelta(seconds=int(rnd(day, i, "t") * 86400))
            user = USERS[int(rnd(day, i, "u") * len(USERS))]
            cat, typ = EVENTS[int(rnd(day, i, "e") * len(EVENTS))]
            failed = typ == "LOGIN" and rnd(day, i, "f") < 0.2
            out.append((
                t.strftime("%Y-%m-%d %H:%M:%S"), cat, typ, "FAILURE" if failed else "SUCCESS",
                "INVALID_PASSWORD" if failed else None, "u-" + user.split("@")[0], user, "Creator",
                None if cat == "AUTHENTICATION" else "wb-%d" % (i % 5),
                None if cat == "AUTHENTICATION" else 'Sales, "Q4"',
                "10.0.0.%d" % (1 + i % 9), "Mozilla/5.0", "req-%d-%03d" % (day, i), "s-%d" % (i % 7),
            ))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--end", default=dt.datetime.now(dt.timezone.utc).date().isoformat())
    a = ap.parse_args()
    end = dt.date.fromisoformat(a.end)
    conn = snowflake.connector.connect(
        user="LOADER", password="any", account="local", host=a.host, port=a.port, protocol="http",
    )
    cur = conn.cursor()
    cur.execute("CREATE DATABASE IF NOT EXISTS SIGMA_AUDIT")
    cur.execute("CREATE SCHEMA IF NOT EXISTS SIGMA_AUDIT.AUDIT")
    cur.execute("CREATE OR REPLACE TABLE SIGMA_AUDIT.AUDIT.AUDIT_LOGS (REQUEST_TIME TIMESTAMP_NTZ, "
                + ", ".join(c + " TEXT" for c in COLUMNS[1:]) + ")")
    data = rows(end)
    cur.executemany("INSERT INTO SIGMA_AUDIT.AUDIT.AUDIT_LOGS VALUES (" + ", ".join(["%s"] * len(COLUMNS)) + ")", data)
    print("loaded %d rows into SIGMA_AUDIT.AUDIT.AUDIT_LOGS (%s to %s)" % (len(data), end - dt.timedelta(days=7), end))


if __name__ == "__main__":
    main()

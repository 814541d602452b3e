"""A tuned Python feed monitor: the peer bench/e2e.sh measures yuqing against.

What a careful Python script doing yuqing's core job would do, with the usual tuning:

  * a thread pool fetches the feeds (16 threads, like yuqing's [daemon] concurrency),
    with conditional GET (If-None-Match / If-Modified-Since from the last run);
  * feedparser-like parsing with the standard library (ElementTree; RSS 2.0 items and
    Atom entries; title, link, guid, date, HTML stripped from the description, entities
    unescaped, NFKC width folding);
  * SQLite state (WAL, synchronous=NORMAL): validators per feed, every item stored with its
    identity key so nothing alerts twice, one transaction per feed;
  * keyword matching with one compiled alternation of the keyword list;
  * alerts as multipart (text + HTML) emails over smtplib, through a small pool of
    reused SMTP connections (4 sender threads, like yuqing's default [mail] connections),
    so fetching and sending overlap.

It reads the config directory bench/gen_feeds.py writes (sources.toml, keywords/*.txt,
yuqing.toml's [mail] host and port). Standard library only (Python >= 3.11 for tomllib).

usage: peer_monitor.py --config DIR --state FILE.db
"""

import argparse
import concurrent.futures as cf
import email.message
import email.utils
import glob
import html
import http.client
import os
import queue
import re
import smtplib
import sqlite3
import sys
import threading
import tomllib
import unicodedata
import urllib.parse
import xml.etree.ElementTree as ET

THREADS = 16
SENDERS = 4
ATOM = "{http://www.w3.org/2005/Atom}"
TAG = re.compile(r"<[^>]+>")
SPACE = re.compile(r"\s+")


def clean(text):
    text = html.unescape(TAG.sub(" ", text or ""))
    return SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def parse_feed(body):
    """Entries as dicts: title, link, guid, published, text (feedparser's essentials)."""
    root = ET.fromstring(body)
    entries = []
    for item in root.iter("item"):
        entries.append({
            "title": clean(item.findtext("title")),
            "link": (item.findtext("link") or "").strip(),
            "guid": (item.findtext("guid") or "").strip(),
            "published": item.findtext("pubDate"),
            "text": clean(item.findtext("description")),
        })
    for entry in root.iter(ATOM + "entry"):
        link = entry.find(ATOM + "link")
        entries.append({
            "title": clean(entry.findtext(ATOM + "title")),
            "link": link.get("href", "") if link is not None else "",
            "guid": (entry.findtext(ATOM + "id") or "").strip(),
            "published": entry.findtext(ATOM + "updated"),
            "text": clean(entry.findtext(ATOM + "summary") or entry.findtext(ATOM + "content")),
        })
    for e in entries:
        try:
            e["published"] = email.utils.parsedate_to_datetime(e["published"]).timestamp()
        except (TypeError, ValueError):
            e["published"] = None
    return entries


class Monitor:
    def __init__(self, config_dir, state):
        with open(os.path.join(config_dir, "sources.toml"), "rb") as f:
            self.sources = [s for s in tomllib.load(f)["source"] if s.get("enabled", True)]
        with open(os.path.join(config_dir, "yuqing.toml"), "rb") as f:
            mail = tomllib.load(f)["mail"]
        self.smtp = (mail["host"], mail["port"])
        self.sender = mail["from"]
        self.to = mail["to"]
        terms = []
        for path in sorted(glob.glob(os.path.join(config_dir, "keywords", "*.txt"))):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    term = line.split("#", 1)[0].strip()
                    if term and not term.startswith("@"):
                        terms.append(unicodedata.normalize("NFKC", term))
        terms.sort(key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, terms)))
        self.db = sqlite3.connect(state, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS feeds (id TEXT PRIMARY KEY, etag TEXT, modified TEXT, checked REAL);
            CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, feed TEXT, title TEXT, link TEXT,
                text TEXT, published REAL, hits TEXT);
        """)
        self.lock = threading.Lock()
        self.outbox = queue.Queue()
        self.local = threading.local()
        self.counts = {"feeds": 0, "not_modified": 0, "new": 0, "alerts": 0, "sent": 0, "errors": 0}

    # -- fetching ----------------------------------------------------------------------
    def connection(self, host, port):
        conn = getattr(self.local, "conn", None)
        if conn is None or (conn.host, conn.port) != (host, port):
            conn = http.client.HTTPConnection(host, port, timeout=30)
            self.local.conn = conn
        return conn

    def get(self, url, headers):
        u = urllib.parse.urlsplit(url)
        path = u.path + ("?" + u.query if u.query else "")
        for attempt in (1, 2):  # a kept-alive connection the server closed: once more, fresh
            conn = self.connection(u.hostname, u.port or 80)
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                if resp.getheader("Connection", "").lower() == "close" or resp.version == 10:
                    conn.close()
                    self.local.conn = None
                return resp.status, resp.getheader("ETag"), resp.getheader("Last-Modified"), body
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise

    def poll(self, source):
        feed = source["id"]
        with self.lock:
            row = self.db.execute("SELECT etag, modified FROM feeds WHERE id = ?", (feed,)).fetchone()
        headers = {"User-Agent": "peer-monitor/1.0", "Accept-Encoding": "identity"}
        if row and row[0]:
            headers["If-None-Match"] = row[0]
        if row and row[1]:
            headers["If-Modified-Since"] = row[1]
        status, etag, modified, body = self.get(source["url"], headers)
        if status == 304:
            with self.lock:
                self.db.execute("UPDATE feeds SET checked = strftime('%s','now') WHERE id = ?", (feed,))
                self.counts["not_modified"] += 1
            return
        if status != 200:
            raise RuntimeError(f"{feed}: HTTP {status}")
        entries = parse_feed(body)
        matched = []
        with self.lock:
            self.db.execute("BEGIN")
            for e in entries:
                key = "guid:" + feed + ":" + e["guid"] if e["guid"] else "link:" + e["link"]
                hits = sorted(set(self.pattern.findall(e["title"] + "\n" + e["text"])))
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key, feed, e["title"], e["link"], e["text"], e["published"], ",".join(hits)))
                if cur.rowcount == 1:
                    self.counts["new"] += 1
                    if hits:
                        matched.append((e, hits))
            self.db.execute(
                "INSERT INTO feeds VALUES (?, ?, ?, strftime('%s','now')) ON CONFLICT(id) DO UPDATE"
                " SET etag = excluded.etag, modified = excluded.modified, checked = excluded.checked",
                (feed, etag, modified))
            self.db.execute("COMMIT")
            self.counts["alerts"] += len(matched)
        for e, hits in matched:
            self.outbox.put(self.render(source, e, hits))

    # -- alerts ------------------------------------------------------------------------
    def render(self, source, e, hits):
        msg = email.message.EmailMessage()
        msg["Subject"] = f"【舆情提示】{e['title']}"
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Date"] = email.utils.formatdate(localtime=True)
        msg["Message-ID"] = email.utils.make_msgid("peer")
        words = "、".join(hits)
        msg.set_content(f"信源：{source.get('name', source['id'])}\n命中：{words}\n链接：{e['link']}\n\n{e['text']}")
        msg.add_alternative(
            f"<p>信源：{html.escape(source.get('name', source['id']))}</p><p>命中：{html.escape(words)}</p>"
            f"<p><a href=\"{html.escape(e['link'])}\">{html.escape(e['title'])}</a></p><p>{html.escape(e['text'])}</p>",
            subtype="html")
        return msg

    def send_loop(self):
        smtp = None
        while True:
            msg = self.outbox.get()
            if msg is None:
                break
            for attempt in (1, 2):
                try:
                    if smtp is None:
                        smtp = smtplib.SMTP(*self.smtp, timeout=30)
                    smtp.send_message(msg)
                    with self.lock:
                        self.counts["sent"] += 1
                    break
                except (smtplib.SMTPException, OSError) as e:
                    smtp = None
                    if attempt == 2:
                        print(f"peer: cannot send: {e}", file=sys.stderr)
        if smtp is not None:
            smtp.quit()

    def run(self):
        senders = [threading.Thread(target=self.send_loop) for _ in range(SENDERS)]
        for t in senders:
            t.start()
        with cf.ThreadPoolExecutor(THREADS) as pool:
            for future in cf.as_completed([pool.submit(self.poll, s) for s in self.sources]):
                self.counts["feeds"] += 1
                if future.exception() is not None:
                    self.counts["errors"] += 1
                    print(f"peer: {future.exception()}", file=sys.stderr)
        for _ in senders:
            self.outbox.put(None)
        for t in senders:
            t.join()
        print(" ".join(f"{k}={v}" for k, v in self.counts.items()))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--state", required=True)
    a = p.parse_args()
    Monitor(a.config, a.state).run()


if __name__ == "__main__":
    main()

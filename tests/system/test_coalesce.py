"""Bursts of challenges for one zone coalesced into one UPDATE
(server/coalesce.c), against real Knot and BIND.

Each test puts proxy_dns (fakedns.py) between the webhook and the server:
it forwards every message and records each UPDATE, so a test sees how
many messages carried which records; the first UPDATE is held there a
moment, so that the zone is busy (an update in flight) while the burst
arrives.  The burst comes over connections opened beforehand and released
together (a barrier), and the webhook runs with --coalesce-window 1s (a
batch waits for the update in flight up to that), so that what shares a
message does not depend on the machine's speed; the default window is
10 ms.

Fixtures come from dnsservers.py (knot, bind), fakedns.py (proxy_dns) and
webhook.py (pki, start_webhook); the call helpers from
test_webhook_solver.py.
"""
import concurrent.futures
import json
import struct
import threading
import time

import pytest

from dnsservers import RESTRICTED_FQDN, ZONE, _read_name, unique_fqdn
from fakedns import msg_opcode
from test_webhook_solver import (NS, SECRET_KEY, SECRET_NAME, ok,
                                 secrets_dir, signed_config, solve,
                                 solver_path)
from webhook import challenge, start_webhook

# The first UPDATE's answer is held this long: the burst arrives meanwhile.
HOLD_S = 0.4
BATCH_LOG = "a batched update failed"


def start(tmp_path, pki, srv, key_name="acme256", window="1s", files=None):
    """The webhook with @srv's key @key_name from a --secrets-dir (or
    @files), batches waiting up to @window."""
    files = files or {(NS, SECRET_NAME, SECRET_KEY):
                      srv.keys[key_name].secret + "\n"}
    # All 16 workers for the one namespace (ClusterIssuer-like): 16 run
    # and 64 wait, so a burst of 64 is taken whole (the default, 4,
    # answers a burst beyond 20 at once with a failure).
    return start_webhook(tmp_path, pki, args=[
        "--secrets-dir", secrets_dir(tmp_path, files),
        "--coalesce-window", window, "--max-challenges-per-namespace", "16"])


def update_records(msg):
    """(zone, [owner names of the update section]) of an UPDATE."""
    zocount, _prcount, upcount = struct.unpack("!HHH", msg[4:10])
    zone, off = _read_name(msg, 12)
    off += 4
    owners = []
    for _ in range(upcount):
        name, off = _read_name(msg, off)
        rdlen = struct.unpack("!H", msg[off + 8:off + 10])[0]
        off += 10 + rdlen
        owners.append(name.lower())
    assert zocount == 1
    return zone.lower(), owners


class Recorder:
    """A proxy_dns rule: forwards everything, records each UPDATE, holds
    the first UPDATE's answer HOLD_S."""

    def __init__(self):
        self.updates = []
        self.lock = threading.Lock()

    def __call__(self, msg, tcp, n):
        if msg_opcode(msg) != 5:
            return "forward"
        with self.lock:
            first = not self.updates
            self.updates.append(bytes(msg))
        if first:
            time.sleep(HOLD_S)
        return "forward"

    def records(self):
        with self.lock:
            return [update_records(m) for m in self.updates]


def soa_serial(srv):
    ans = srv.query(ZONE, "SOA")
    rdata = [rr for rr in ans.answers if rr.type == 6][0].rdata
    # SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM end it (RFC 1035 3.3.13).
    return struct.unpack("!I", rdata[-20:-16])[0]


def burst(wh, calls):
    """Send @calls (action, fqdn, value, config, zone) at once over
    connections opened beforehand; returns each call's response object."""
    conns = [wh.connection() for _ in calls]
    for c in conns:
        c.connect()
    gate = threading.Barrier(len(calls))

    def one(i):
        action, fqdn, value, cfg, zone = calls[i]
        body = challenge(action, fqdn, zone, value, config=cfg, ns=NS,
                         uid="uid-%d" % i)
        gate.wait()
        status, _, raw = wh.request("POST", solver_path(wh),
                                    body=json.dumps(body).encode(),
                                    conn=conns[i])
        assert status in (200, 201), (status, raw)
        return json.loads(raw)["response"]

    try:
        with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(one, range(len(calls))))
    finally:
        for c in conns:
            c.close()


@pytest.mark.parametrize("server", ["knot", "bind"])
def test_burst_one_zone_few_updates(tmp_path, pki, request, proxy_dns,
                                    server):
    """64 Presents to one zone at once: every record is served, far fewer
    than 64 UPDATE messages carried them (one of 8 records or more) and
    the SOA serial moved once per message at most; then 64 CleanUps the
    same way leave nothing."""
    srv = request.getfixturevalue(server)
    rec = Recorder()
    proxy = proxy_dns(srv, rec)
    wh = start(tmp_path, pki, srv)
    cfg = signed_config(srv, nameserver=proxy.addr)
    names = [unique_fqdn("burst%d" % i) for i in range(64)]
    before = soa_serial(srv)
    answers = burst(wh, [("Present", n, "v-%d" % i, cfg, ZONE)
                         for i, n in enumerate(names)])
    assert all(a["success"] for a in answers), answers
    assert all(srv.txt(n) == ["v-%d" % i] for i, n in enumerate(names))
    bumps = soa_serial(srv) - before
    msgs = rec.records()
    sizes = sorted(len(owners) for _, owners in msgs)
    assert sum(sizes) == 64, sizes
    # The first wave (the webhook's 16 workers) is one call alone and a
    # batch of the 15 others behind it; later calls come as the workers
    # finish (each checks its write first), in smaller batches.
    assert max(sizes) >= 8, sizes
    assert len(msgs) <= 50, sizes
    assert 1 <= bumps <= len(msgs), (bumps, sizes)
    print("%s: 64 Presents in %d UPDATEs %s, SOA serial +%d" % (
        server, len(msgs), sizes, bumps))

    rec.updates.clear()
    answers = burst(wh, [("CleanUp", n, "v-%d" % i, cfg, ZONE)
                         for i, n in enumerate(names)])
    assert all(a["success"] for a in answers), answers
    assert all(srv.txt(n) == [] for n in names)
    assert len(rec.records()) <= 50


@pytest.mark.parametrize("server", ["knot", "bind"])
def test_bad_record_in_batch_gets_own_diagnosis(tmp_path, pki, request,
                                                proxy_dns, server):
    """The key "restricted" may only touch RESTRICTED_FQDN: a burst of
    Presents there with one at another name is refused as a batch, then
    sent one by one: the others succeed, the odd one is refused alone."""
    srv = request.getfixturevalue(server)
    rec = Recorder()
    proxy = proxy_dns(srv, rec)
    wh = start(tmp_path, pki, srv, key_name="restricted")
    cfg = signed_config(srv, key_name="restricted", nameserver=proxy.addr)
    bad = unique_fqdn("notallowed")
    calls = [("Present", RESTRICTED_FQDN, "good-%d" % i, cfg, ZONE)
             for i in range(12)]
    calls.insert(6, ("Present", bad, "bad", cfg, ZONE))
    # A good one first, alone and held: the burst finds the zone busy.
    first = []
    t = threading.Thread(target=lambda: first.append(solve(
        wh, "Present", RESTRICTED_FQDN, "good-first", cfg)))
    t.start()
    deadline = time.monotonic() + 15
    while not rec.updates and time.monotonic() < deadline:
        time.sleep(0.01)
    answers = burst(wh, calls)
    t.join()
    assert first and first[0]["success"], first
    for (_, fqdn, value, _, _), a in zip(calls, answers):
        if fqdn == bad:
            assert not a["success"], a
            msg = a["status"]["message"]
            assert bad.rstrip(".") in msg, msg
            assert "REFUSED" in msg or "NOTAUTH" in msg, msg
        else:
            assert a["success"], (a, wh.log()[-3000:])
    served = srv.txt(RESTRICTED_FQDN)
    assert sorted(v for v in served if v.startswith("good-")) == sorted(
        ["good-%d" % i for i in range(12)] + ["good-first"])
    assert srv.txt(bad) == []
    msgs = rec.records()
    assert any(len(o) > 1 and bad.lower() in o for _, o in msgs), msgs
    assert BATCH_LOG in wh.log()
    for v in ["good-%d" % i for i in range(12)] + ["good-first"]:
        ok(wh, "CleanUp", RESTRICTED_FQDN, v, cfg)


def test_mixed_keys_never_share_a_message(tmp_path, pki, knot, proxy_dns):
    """A burst signed with two keys: each UPDATE is signed by one key and
    carries only that key's records; all are served."""
    rec = Recorder()
    proxy = proxy_dns(knot, rec)
    wh = start(tmp_path, pki, knot, files={
        (NS, SECRET_NAME, SECRET_KEY): knot.keys["acme256"].secret,
        (NS, "other", SECRET_KEY): knot.keys["acme512"].secret})
    cfgs = {"acme256": signed_config(knot, nameserver=proxy.addr),
            "acme512": signed_config(knot, key_name="acme512",
                                     name="other", nameserver=proxy.addr)}
    calls = []
    for i in range(24):
        k = "acme256" if i % 2 else "acme512"
        calls.append(("Present", unique_fqdn(k), k, cfgs[k], ZONE))
    answers = burst(wh, calls)
    assert all(a["success"] for a in answers), answers
    assert all(knot.txt(c[1]) == [c[2]] for c in calls)
    owners = {c[1].lower(): c[2] for c in calls}
    for m in rec.updates:
        _, names = update_records(m)
        keys = {owners[n] for n in names}
        assert len(keys) == 1, names
        # The TSIG record names the key of its records.
        assert (b"\x07" + keys.pop().encode()) in m
    assert any(len(update_records(m)[1]) > 1 for m in rec.updates)


def test_mixed_zones_never_share_a_message(tmp_path, pki, bind, proxy_dns):
    """A burst for two zones (example.test., which BIND serves, and
    sub.example.test., which it does not): each UPDATE names one zone and
    carries only that zone's challenges.  BIND answers NOTAUTH for the
    second; each of those is then sent alone to the zone found at the
    server (zone discovery), so all succeed."""
    rec = Recorder()
    proxy = proxy_dns(bind, rec)
    wh = start(tmp_path, pki, bind)
    cfg = signed_config(bind, nameserver=proxy.addr)
    sub = "sub." + ZONE
    calls = []
    for i in range(24):
        zone = sub if i % 3 == 0 else ZONE
        calls.append(("Present", unique_fqdn("z%d" % i).replace(
            ZONE, zone), "v%d" % i, cfg, zone))
    answers = burst(wh, calls)
    assert all(a["success"] for a in answers), answers
    assert all(bind.txt(c[1]) == [c[2]] for c in calls)
    of_sub = {c[1].lower() for c in calls if c[4] == sub}
    msgs = rec.records()
    for zone, names in msgs:
        assert all(n.endswith(zone) for n in names), (zone, names)
        if zone == ZONE and of_sub & set(names):
            # Only the retry in the zone found, alone.
            assert len(names) == 1, names
    assert any(z == sub and len(o) > 1 for z, o in msgs), msgs
    assert any(z == ZONE and len(o) > 1 for z, o in msgs), msgs


def test_lone_call_alone_and_unchanged(tmp_path, pki, knot, proxy_dns):
    """A call that finds its zone idle is sent at once, alone: one UPDATE
    with its one record, the serial up by one, no batch in the log."""
    rec = Recorder()
    proxy = proxy_dns(knot, rec)
    wh = start(tmp_path, pki, knot)
    cfg = signed_config(knot, nameserver=proxy.addr)
    fqdn = unique_fqdn("lone")
    before = soa_serial(knot)
    resp = solve(wh, "Present", fqdn, "lone-value", cfg)
    assert resp["success"], resp
    assert rec.records() == [(ZONE, [fqdn.lower()])]
    assert soa_serial(knot) == before + 1
    assert knot.txt(fqdn) == ["lone-value"]
    ok(wh, "CleanUp", fqdn, "lone-value", cfg)
    assert knot.txt(fqdn) == []
    assert BATCH_LOG not in wh.log()


def test_window_zero_sends_each_alone(tmp_path, pki, bind, proxy_dns):
    """--coalesce-window 0: a burst goes out one UPDATE per challenge."""
    rec = Recorder()
    proxy = proxy_dns(bind, rec)
    wh = start(tmp_path, pki, bind, window="0")
    cfg = signed_config(bind, nameserver=proxy.addr)
    names = [unique_fqdn("off%d" % i) for i in range(12)]
    answers = burst(wh, [("Present", n, "v", cfg, ZONE) for n in names])
    assert all(a["success"] for a in answers), answers
    assert sorted(len(o) for _, o in rec.records()) == [1] * 12

"""Generate a realistic application log of a given size (timestamps, levels, ids, IPs, some secrets)."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

LEVELS = ["info"] * 80 + ["warning"] * 12 + ["error"] * 6 + ["debug"] * 2
MESSAGES = [
    "07-0013 client {cid} disconnected from {ip}:{port} after {n} messages",
    "05-0021 publish to topic orders/{cid} seq={n} bytes={port}",
    "12-0004 subscription {uuid} matched {n} records in {port}us",
    "30-0001 transaction log flushed {n} entries to journal {port}",
    "GET /api/v1/orders/{n}?session={uuid} from {ip} status=200 took={port}ms",
    "27-0009 replication to {ip}:{port} lag {n} messages",
    "connecting to postgres://app:{secret}@db-{cid}.internal:5432/orders",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{secret}.sig{n}",
]


TRACE = [
    "java.lang.IllegalStateException: order {n} rejected by {ip}:{port}",
    "\tat com.example.orders.OrderService.submit(OrderService.java:{port})",
    "\tat com.example.orders.OrderController.post(OrderController.java:88)",
    "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)",
    "\tat javax.servlet.http.HttpServlet.service(HttpServlet.java:750)",
    "\tat org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:166)",
    "Caused by: java.net.SocketTimeoutException: connect timed out to db-{cid}.internal/{ip}",
    "\tat java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:546)",
    "\t... {cid} more",
]


def levels(warn_share: float) -> list[str]:
    """100 level words, ``warn_share`` of them warning or error (2:1), 2 debug, the rest info."""
    bad = round(warn_share * 100)
    return ["info"] * (98 - bad) + ["warning"] * (bad - bad // 3) + ["error"] * (bad // 3) + ["debug"] * 2


def generate(path: Path, size: int, seed: int = 1, secret_every: int = 5000, trace_every: int = 0,
             warn_share: float = 0.18) -> None:
    """``trace_every``: a Java stack trace (untimestamped lines) after every N-th line (0: none);
    ``warn_share``: the share of warning and error lines (0.18: the default mix, LEVELS)."""
    rnd = random.Random(seed)
    mix = LEVELS if warn_share == 0.18 else levels(warn_share)
    t = time.time() - 86400
    written = 0
    with open(path, "w") as f:
        buf = []
        i = 0
        while written < size:
            i += 1
            t += 0.01
            msg = MESSAGES[rnd.randrange(6)] if i % secret_every else MESSAGES[6 + i % 2]
            line = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{i % 1000000:06d}+0000 [{i % 64}] "
                    + rnd.choice(mix) + ": "
                    + msg.format(cid=rnd.randrange(9999), ip=f"10.{rnd.randrange(255)}.{rnd.randrange(255)}.{i % 255}",
                                 port=rnd.randrange(65535), n=i, uuid=f"{rnd.getrandbits(128):032x}",
                                 secret=f"S3cr{rnd.getrandbits(40):x}")
                    + "\n")
            if trace_every and i % trace_every == 0:
                line += "".join(t.format(cid=rnd.randrange(9999), ip=f"10.{rnd.randrange(255)}.{i % 255}.7",
                                         port=rnd.randrange(65535), n=i) + "\n" for t in TRACE)
            buf.append(line)
            written += len(line)
            if len(buf) >= 10000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


if __name__ == "__main__":
    generate(Path(sys.argv[1]), int(float(sys.argv[2]) * 1024 * 1024))

"""Generators of planted secrets (many shapes) and of look-alikes (values redaction must keep)."""

from __future__ import annotations

import base64
import json
import random
import string

ALNUM = string.ascii_letters + string.digits
CRYPT64 = "./" + string.digits + string.ascii_letters
WORDS = ("amber", "basalt", "cobalt", "delta", "ember", "fjord", "granite", "harbor", "indigo", "juniper",
         "kestrel", "lantern", "meadow", "nebula", "orchid", "pepper", "quartz", "raven", "saffron", "tundra",
         "umber", "velvet", "willow", "xenon", "yarrow", "zephyr", "copper", "falcon", "glacier", "hollow")


def _s(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _alnum(rng: random.Random, n: int) -> str:
    while True:
        v = _s(rng, ALNUM, n)
        if any(c.isdigit() for c in v) and any(c.isalpha() for c in v):
            return v


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(rng: random.Random) -> str:
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps({"sub": _alnum(rng, 10), "iat": rng.randrange(1_600_000_000, 1_800_000_000)}).encode())
    return f"{head}.{body}.{_b64url(rng.randbytes(32))}"


def passphrase(rng: random.Random) -> str:
    words = [rng.choice(WORDS) + str(rng.randrange(10, 99)) for _ in range(rng.randrange(3, 5))]
    specials = ["#", ";", "'", '"', "!", "&", "%", "=", ","]
    out = words[0]
    for w in words[1:]:
        out += rng.choice([" ", " ", "-", " " + rng.choice(specials) + " ", rng.choice(specials)]) + w
    return out


SECRET_SHAPES = {
    "alnum": lambda r: _alnum(r, r.randrange(8, 41)),
    "passphrase": passphrase,
    "base64": lambda r: base64.b64encode(r.randbytes(r.choice([18, 24, 32, 48]))).decode(),
    "hex": lambda r: r.randbytes(r.choice([16, 20, 32])).hex(),
    "github-ghp": lambda r: "ghp_" + _alnum(r, 36),
    "github-pat": lambda r: "github_pat_" + _alnum(r, 22) + "_" + _alnum(r, 59),
    "slack-xoxb": lambda r: f"xoxb-{r.randrange(10**11, 10**12)}-{r.randrange(10**12, 10**13)}-{_alnum(r, 24)}",
    "slack-xapp": lambda r: f"xapp-1-A{_s(r, string.ascii_uppercase + string.digits, 10)}-"
                            f"{r.randrange(10**12, 10**13)}-{r.randbytes(32).hex()}",
    "stripe-sk_live": lambda r: "sk_live_" + _alnum(r, r.choice([24, 34, 99])),
    "stripe-whsec": lambda r: "whsec_" + _alnum(r, 32),
    "aws-akia": lambda r: "AKIA" + _s(r, string.ascii_uppercase + "234567", 16),
    "aws-secret": lambda r: _s(r, ALNUM + "+/", 40),
    "jwt": jwt,
    "des-crypt": lambda r: _s(r, CRYPT64, 13),
    "bcrypt": lambda r: "$2y$" + r.choice(["10", "12"]) + "$" + _s(r, CRYPT64, 53),
    "sha512-crypt": lambda r: "$6$" + _s(r, CRYPT64, 16) + "$" + _s(r, CRYPT64, 86),
    "twilio-sk": lambda r: "SK" + r.randbytes(16).hex(),
    "mailgun-key": lambda r: "key-" + r.randbytes(16).hex(),
    "gitlab-glpat": lambda r: "glpat-" + _s(r, ALNUM + "_-", 20),
    "sendgrid": lambda r: "SG." + _s(r, ALNUM + "_-", 22) + "." + _s(r, ALNUM + "_-", 43),
    "google-aiza": lambda r: "AIza" + _s(r, ALNUM + "_-", 35),
    "npm": lambda r: "npm_" + _alnum(r, 36),
}
# weights: most admins' secrets are plain random strings or passphrases
# (each vendor shape 0.5: together about a quarter of the secrets)
SHAPE_WEIGHTS = {"alnum": 8, "passphrase": 5, "base64": 3, "hex": 3, "des-crypt": 1, "bcrypt": 1, "jwt": 1,
                 "sha512-crypt": 0.5, "aws-secret": 1}


def secret(rng: random.Random, forbid: str = "", shape: str | None = None) -> tuple[str, str]:
    """(shape, value) of a random secret without any character of ``forbid``."""
    names = list(SECRET_SHAPES)
    weights = [SHAPE_WEIGHTS.get(n, 0.5) for n in names]
    for _ in range(200):
        name = shape or rng.choices(names, weights)[0]
        value = SECRET_SHAPES[name](rng)
        if not any(c in value for c in forbid):
            return name, value
        if shape and name == "passphrase":
            value = "".join(c for c in value if c not in forbid)
            return name, value
    name = "alnum"
    return name, _alnum(rng, 24)


CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
           "HIGH:!aNULL:!MD5", "EECDH+AESGCM:EDH+AESGCM", "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
           "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES256-GCM-SHA384",
           "DEFAULT:!EXP:!LOW:!RC4:!3DES")
PLACEHOLDERS = ("${DB_PASSWORD}", "${SECRET_KEY}", "%(db_password)s", "{{ vault_db_password }}", "${env:API_TOKEN}",
                "$REDIS_PASSWORD", "@@SMTP_PASSWORD@@", "${LDAP_BIND_PW}")


def lookalike(rng: random.Random, shape: str, pkg: str = "app") -> str:
    if shape == "number":
        return str(rng.choice([rng.randrange(1, 100), rng.randrange(100, 100000), 3600, 99999, 4096, 656000]))
    if shape == "duration":
        return f"{rng.randrange(1, 500)}{rng.choice(['s', 'm', 'h', 'd', 'ms'])}"
    if shape == "path":
        return f"/etc/{pkg}/ssl/{rng.choice(WORDS)}-{rng.randrange(100, 999)}.{rng.choice(['key', 'pem', 'crt'])}"
    if shape == "upstream":
        host = rng.choice([f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                           f"{rng.choice(WORDS)}-{rng.randrange(1, 9)}.internal", "127.0.0.1", "localhost"])
        return rng.choice([f"http://{host}:{rng.randrange(1024, 65535)}", f"{host}:{rng.randrange(1024, 65535)}",
                           f"https://{host}:{rng.randrange(1024, 65535)}/api/"])
    if shape == "cipher":
        return rng.choice(CIPHERS)
    if shape == "placeholder":
        return rng.choice(PLACEHOLDERS)
    raise ValueError(shape)

"""Chef authentication protocol 1.3 against mixlib-authentication's own vector.

The key, request and expected headers are those of mixlib-authentication's
spec (spec/mixlib/authentication/mixlib_authentication_spec.rb, "version 1.3
with SHA256"). RSA PKCS#1 v1.5 is deterministic, so our signature must equal
theirs byte for byte: the same server that accepts knife accepts us.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from swarmhub.lifecycle.chef import canonical_path, canonical_request, sign_headers

PRIVATE_KEY = b"""-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEA0ueqo76MXuP6XqZBILFziH/9AI7C6PaN5W0dSvkr9yInyGHS
z/IR1+4tqvP2qlfKVKI4CP6BFH251Ft9qMUBuAsnlAVQ1z0exDtIFFOyQCdR7iXm
jBIWMSS4buBwRQXwDK7id1OxtU23qVJv+xwEV0IzaaSJmaGLIbvRBD+qatfUuQJB
MU/04DdJIwvLtZBYdC2219m5dUBQaa4bimL+YN9EcsDzD9h9UxQo5ReK7b3cNMzJ
BKJWLzFBcJuePMzAnLFktr/RufX4wpXe6XJxoVPaHo72GorLkwnQ0HYMTY8rehT4
mDi1FI969LHCFFaFHSAaRnwdXaQkJmSfcxzCYQIDAQABAoIBAQCW3I4sKN5B9jOe
xq/pkeWBq4OvhW8Ys1yW0zFT8t6nHbB1XrwscQygd8gE9BPqj3e0iIEqtdphbPmj
VHqTYbC0FI6QDClifV7noTwTBjeIOlgZ0NSUN0/WgVzIOxUz2mZ2vBZUovKILPqG
TOi7J7RXMoySMdcXpP1f+PgvYNcnKsT72UcWaSXEV8/zo+Zm/qdGPVWwJonri5Mp
DVm5EQSENBiRyt028rU6ElXORNmoQpVjDVqZ1gipzXkifdjGyENw2rt4V/iKYD7V
5iqXOsvP6Cemf4gbrjunAgDG08S00kiUgvVWcdXW+dlsR2nCvH4DOEe3AYYh/aH8
DxEE7FbtAoGBAPcNO8fJ56mNw0ow4Qg38C+Zss/afhBOCfX4O/SZKv/roRn5+gRM
KRJYSVXNnsjPI1plzqR4OCyOrjAhtuvL4a0DinDzf1+fiztyNohwYsW1vYmqn3ti
EN0GhSgE7ppZjqvLQ3f3LUTxynhA0U+k9wflb4irIlViTUlCsOPkrNJDAoGBANqL
Q+vvuGSsmRLU/Cenjy+Mjj6+QENg51dz34o8JKuVKIPKU8pNnyeLa5fat0qD2MHm
OB9opeQOcw0dStodxr6DB3wi83bpjeU6BWUGITNiWEaZEBrQ0aiqNJJKrrHm8fAZ
9o4l4oHc4hI0kYVYYDuxtKuVJrzZiEapTwoOcYiLAoGBAI/EWbeIHZIj9zOjgjEA
LHvm25HtulLOtyk2jd1njQhlHNk7CW2azIPqcLLH99EwCYi/miNH+pijZ2aHGCXb
/bZrSxM0ADmrZKDxdB6uGCyp+GS2sBxjEyEsfCyvwhJ8b3Q100tqwiNO+d5FCglp
HICx2dgUjuRVUliBwOK93nx1AoGAUI8RhIEjOYkeDAESyhNMBr0LGjnLOosX+/as
qiotYkpjWuFULbibOFp+WMW41vDvD9qrSXir3fstkeIAW5KqVkO6mJnRoT3Knnra
zjiKOITCAZQeiaP8BO5o3pxE9TMqb9VCO3ffnPstIoTaN4syPg7tiGo8k1SklVeH
2S8lzq0CgYAKG2fljIYWQvGH628rp4ZcXS4hWmYohOxsnl1YrszbJ+hzR+IQOhGl
YlkUQYXhy9JixmUUKtH+NXkKX7Lyc8XYw5ETr7JBT3ifs+G7HruDjVG78EJVojbd
8uLA+DdQm5mg4vd1GTiSK65q/3EeoBlUaVor3HhLFki+i9qpT8CBsg==
-----END RSA PRIVATE KEY-----
"""

USER_ID = "spec-user"
BODY = b"Spec Body"
TIMESTAMP = "2009-01-01T12:00:00Z"
PATH = "/organizations/clownco"

EXPECTED_CANONICAL = (
    "Method:POST\n"
    "Path:/organizations/clownco\n"
    "X-Ops-Content-Hash:hDlKNZhIhgso3Fs0S0pZwJ0xyBWtR1RBaeHs1DrzOho=\n"
    "X-Ops-Sign:version=1.3\n"
    "X-Ops-Timestamp:2009-01-01T12:00:00Z\n"
    "X-Ops-UserId:spec-user\n"
    "X-Ops-Server-API-Version:1"
)

EXPECTED_AUTHORIZATION = [
    "FZOmXAyOBAZQV/uw188iBljBJXOm+m8xQ/8KTGLkgGwZNcRFxk1m953XjE3W",
    "VGy1dFT76KeaNWmPCNtDmprfH2na5UZFtfLIKrPv7xm80V+lzEzTd9WBwsfP",
    "42dZ9N+V9I5SVfcL/lWrrlpdybfceJC5jOcP5tzfJXWUITwb6Z3Erg3DU3Uh",
    "H9h9E0qWlYGqmiNCVrBnpe6Si1gU/Jl+rXlRSNbLJ4GlArAPuL976iTYJTzE",
    "MmbLUIm3JRYi00Yb01IUCCKdI90vUq1HHNtlTEu93YZfQaJwRxXlGkCNwIJe",
    "fy49QzaCIEu1XiOx5Jn+4GmkrZch/RrK9VzQWXgs+w==",
]


def _key():
    return serialization.load_pem_private_key(PRIVATE_KEY, password=None)


def test_canonical_request_matches_mixlib():
    assert canonical_request("post", PATH, BODY, TIMESTAMP, USER_ID) == EXPECTED_CANONICAL


def test_signature_matches_mixlib_vector():
    headers = sign_headers(
        _key(), method="POST", path=PATH, body=BODY, user_id=USER_ID, timestamp=TIMESTAMP
    )
    assert headers == {
        "X-Ops-Sign": "algorithm=sha256;version=1.3;",
        "X-Ops-Userid": USER_ID,
        "X-Ops-Timestamp": TIMESTAMP,
        "X-Ops-Content-Hash": "hDlKNZhIhgso3Fs0S0pZwJ0xyBWtR1RBaeHs1DrzOho=",
        "X-Ops-Server-API-Version": "1",
        **{f"X-Ops-Authorization-{i + 1}": line for i, line in enumerate(EXPECTED_AUTHORIZATION)},
    }


def test_path_is_canonicalised_like_the_server():
    assert canonical_path("//organizations//clownco/") == "/organizations/clownco"
    assert canonical_path("/") == "/"
    same = sign_headers(
        _key(),
        method="POST",
        path="/organizations//clownco/",
        body=BODY,
        user_id=USER_ID,
        timestamp=TIMESTAMP,
    )
    assert same["X-Ops-Authorization-1"] == EXPECTED_AUTHORIZATION[0]


def test_empty_body_hash_is_sha256_of_nothing():
    headers = sign_headers(
        _key(), method="GET", path="/nodes", body=b"", user_id=USER_ID, timestamp=TIMESTAMP
    )
    assert headers["X-Ops-Content-Hash"] == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

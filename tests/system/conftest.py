"""pytest configuration of the system tests.

Fixtures live in modules of their own, one per part of the test rig:
  dnsservers.py  real Knot, BIND and PowerDNS on free loopback ports
  fakedns.py     stand-in DNS servers (truncating, silent, misbehaving)
  kube.py        the stand-in Kubernetes API (TLS, bearer token, secrets,
                 configmaps, SubjectAccessReview)
  webhook.py     the webhook server under test and an HTTPS client
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dnsservers import *  # noqa: E402,F401,F403
from fakedns import *  # noqa: E402,F401,F403
from kube import *  # noqa: E402,F401,F403
from webhook import *  # noqa: E402,F401,F403

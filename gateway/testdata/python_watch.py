# Watches ConfigMaps in "default" through the official Python client (Debian's
# python3-kubernetes), printing "TYPE name" per event, until it has seen the
# ConfigMap named by its third argument. Used by TestPythonClientWatch.
import sys

import urllib3
from kubernetes import client, watch

urllib3.disable_warnings()
host, token, until = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = client.Configuration()
cfg.host = host
cfg.verify_ssl = False
cfg.api_key = {"authorization": "Bearer " + token}
api = client.CoreV1Api(client.ApiClient(cfg))
w = watch.Watch()
for ev in w.stream(api.list_namespaced_config_map, "default", timeout_seconds=20):
    name = ev["object"].metadata.name
    print(ev["type"], name, flush=True)
    if name == until:
        w.stop()

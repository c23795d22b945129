# Reads an OpenMetrics text exposition on stdin with the Prometheus project's own strict
# parser (prometheus_client.openmetrics.parser) and prints what it found as JSON: each
# family's type and samples ([name, labels, value]). A format error raises, and the test
# sees the traceback.
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = {
        "type": family.type,
        "samples": [[s.name, s.labels, s.value] for s in family.samples],
    }
print(json.dumps(families))

"""What operators watch: Prometheus metrics and the PNG report (``report`` extra)."""

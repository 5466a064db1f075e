"""The notebook dashboard: Grafana's panel SQL expanded as Grafana does
(`grafana`), drawn with Plotly (`charts`)."""

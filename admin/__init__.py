"""The admin web view: roster, areas, alerts, review queue, dashboard and simulator."""

"""The lab's Streamlit dashboard (dashboard/app.py): reads the warehouse only through the named
analytics queries (sql/analytics) and the run reports (.lab/runs)."""

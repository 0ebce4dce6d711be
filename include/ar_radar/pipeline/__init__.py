"""One module per DAG: the functions its tasks call, with Airflow kept out."""

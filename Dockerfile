# The Airflow image AR Radar runs in (docker-compose.yaml builds it). Same pins as local runs.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 requirements.txt pyproject.toml /opt/airflow/
COPY --chown=airflow:0 include /opt/airflow/include
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt \
 && pip install --no-cache-dir --no-deps -e /opt/airflow

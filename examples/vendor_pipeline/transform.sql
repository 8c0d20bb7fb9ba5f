-- The Generic API Extractor's step 3, run in BigQuery after the load.
SELECT
  org_slug,
  JSON_EXTRACT_SCALAR(raw_data, '$.id') AS id,
  JSON_EXTRACT_SCALAR(raw_data, '$.name') AS name,
  TIMESTAMP(JSON_EXTRACT_SCALAR(raw_data, '$.created_at')) AS created_at,
  extracted_at
FROM `my-project.raw.vendor_data_raw`
WHERE DATE(extracted_at) = CURRENT_DATE()

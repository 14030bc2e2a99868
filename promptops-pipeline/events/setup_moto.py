"""The bucket of events/local.env on a local moto server, with the sample input the event files
name. Run from the workspace root with a Python that has boto3 (moto's own: `pip install
"moto[server]"` brings it; scripts/test.sh's is target/venv/bin/python):

    python promptops-pipeline/events/setup_moto.py [ENDPOINT]   # default http://127.0.0.1:5000

boto3 rather than curl: moto answers unsigned object requests with 403.
"""
import sys

import boto3

endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5000"
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket="promptops-pipeline-local")
s3.upload_file("promptops-pipeline/samples/prompt_inputs/beta-welcome.json",
               "promptops-pipeline-local", "prompt_inputs/beta-welcome.json")
print("s3://promptops-pipeline-local/prompt_inputs/beta-welcome.json on", endpoint)

# State lives in GCS. The bucket and prefix are given at init (partial configuration):
#   terraform init -backend-config=bucket=<project>-strata-tfstate -backend-config=prefix=strata/<env>
# `make deploy` creates the bucket on first use and runs that init. The GCS backend locks the
# state itself. Offline checks swap this for a local backend with a backend_override.tf.
terraform {
  backend "gcs" {}
}

// Package deploy packages Strata's functions for Cloud Run functions and drives Terraform.
//
// # Packaging
//
// Every function deploys from one source zip; only the entry point differs. The Go functions
// buildpack moves the uploaded source into serverless_function_source_code/, reads the package
// name of the Go files at its root, and generates a main package that blank-imports that root
// package and starts the functions framework. The module root has no Go package of its own, so
// Package writes one into the zip: RootFileName, package RootPackage, which blank-imports the
// functions package whose init registers every function.
//
// The zip holds go.mod, go.sum, the generated root file, and the non-test Go files (plus
// embedded files) of every package of the module that the functions package depends on, as
// "go list -deps" reports them. It is deterministic: entries are sorted and carry a fixed
// modification time, so its MD5, which names the uploaded object in Terraform, changes only
// when its content does.
//
// BuildLikeBuildpack unpacks a zip and builds it the way the buildpack does, offline, and
// ProbeFunction starts the result with one FUNCTION_TARGET; together they catch a packaging
// break before a deploy does.
//
// # Terraform
//
// Settings reads the deployment target from the environment, and Deployer runs terraform
// init, plan, apply, destroy and output through terraform-exec in terraform/environments/<env>.
//
// The environments keep their state in GCS with a partial `backend "gcs" {}`. Deployer.Init
// bootstraps it: EnsureStateBucket creates the state bucket (Settings.StateBucket) when it does
// not exist, through the small StateStore interface (GCSStateStore in production, a fake in
// tests), and init passes -backend-config=bucket=… -backend-config=prefix=strata/<env>
// (Settings.BackendConfig). Destroy and outputs init against the same backend but never create
// the bucket.
package deploy

package deploy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Environment variables the deploy tool reads. Where two name the same setting, the first
// one set wins.
const (
	// EnvProject names the Google Cloud project.
	EnvProject = "GOOGLE_CLOUD_PROJECT"
	// EnvProjectAlt names the project when EnvProject is unset.
	EnvProjectAlt = "STRATA_PROJECT"
	// EnvRegion names the region.
	EnvRegion = "STRATA_REGION"
	// EnvRegionAlt names the region when EnvRegion is unset.
	EnvRegionAlt = "GOOGLE_CLOUD_REGION"
	// EnvEnvironment names the Terraform environment (default DefaultEnvironment).
	EnvEnvironment = "STRATA_ENV"
	// EnvTerraformBin names the terraform binary (default "terraform" on PATH).
	EnvTerraformBin = "TERRAFORM"
	// EnvStateBucket names the GCS bucket of the Terraform state (default
	// DefaultStateBucket(project)).
	EnvStateBucket = "STRATA_TF_STATE_BUCKET"
)

// DefaultEnvironment is the Terraform environment used when STRATA_ENV is unset.
const DefaultEnvironment = "dev"

// EnvironmentsDir holds one Terraform root module per environment, relative to the repository
// root.
const EnvironmentsDir = "terraform/environments"

// The project and region patterns match modules/strata's validations of project_id and
// region; bucketPattern is the GCS bucket naming rule without dots.
var (
	projectPattern = regexp.MustCompile(`^[a-z][-a-z0-9.:]{0,62}$`)
	regionPattern  = regexp.MustCompile(`^[a-z][-a-z0-9]{0,62}$`)
	envPattern     = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	bucketPattern  = regexp.MustCompile(`^[a-z0-9][-_a-z0-9]{1,61}[a-z0-9]$`)
)

// DefaultStateBucket returns the state bucket used when STRATA_TF_STATE_BUCKET is unset:
// <project>-strata-tfstate, with the '.' and ':' of a domain-scoped project id as '-'.
func DefaultStateBucket(project string) string {
	return strings.NewReplacer(".", "-", ":", "-").Replace(project) + "-strata-tfstate"
}

// Settings says where to deploy: project, region and Terraform environment, and where the
// repository and the terraform binary are.
type Settings struct {
	// Project is the Google Cloud project id.
	Project string
	// Region is where the functions, buckets, Bigtable cluster and scheduler job live.
	Region string
	// Environment names the directory under EnvironmentsDir.
	Environment string
	// RepoRoot is the repository root.
	RepoRoot string
	// Terraform is the terraform binary (TERRAFORM, else "terraform" on PATH).
	Terraform string
	// StateBucket is the GCS bucket of the Terraform state (STRATA_TF_STATE_BUCKET, else
	// DefaultStateBucket); the environment's state is under StatePrefix in it.
	StateBucket string
}

// EnvironmentDir returns the Terraform root module of s.Environment.
func (s Settings) EnvironmentDir() string {
	return filepath.Join(s.RepoRoot, filepath.FromSlash(EnvironmentsDir), s.Environment)
}

// SettingsFromEnv reads Settings through getenv (os.Getenv in the tool). Project and region
// are required; the error names every missing or malformed variable at once.
func SettingsFromEnv(getenv func(string) string, repoRoot string) (Settings, error) {
	first := func(names ...string) (string, string) {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return v, n
			}
		}
		return "", ""
	}
	s := Settings{RepoRoot: repoRoot}
	var problems []string
	var from string
	s.Project, from = first(EnvProject, EnvProjectAlt)
	switch {
	case s.Project == "":
		problems = append(problems, fmt.Sprintf("the project is not set: set %s (or %s) to the Google Cloud project id", EnvProject, EnvProjectAlt))
	case !projectPattern.MatchString(s.Project):
		problems = append(problems, fmt.Sprintf("%s=%q is not a project id (lowercase letters, digits and hyphens)", from, s.Project))
	}
	s.Region, from = first(EnvRegion, EnvRegionAlt)
	switch {
	case s.Region == "":
		problems = append(problems, fmt.Sprintf("the region is not set: set %s (or %s), e.g. europe-west1", EnvRegion, EnvRegionAlt))
	case !regionPattern.MatchString(s.Region):
		problems = append(problems, fmt.Sprintf("%s=%q is not a region such as europe-west1", from, s.Region))
	}
	s.Environment, _ = first(EnvEnvironment)
	if s.Environment == "" {
		s.Environment = DefaultEnvironment
	}
	if !envPattern.MatchString(s.Environment) {
		problems = append(problems, fmt.Sprintf("%s=%q is not an environment name", EnvEnvironment, s.Environment))
	} else if st, err := os.Stat(s.EnvironmentDir()); err != nil || !st.IsDir() {
		problems = append(problems, fmt.Sprintf("%s=%q: there is no %s/%s", EnvEnvironment, s.Environment, EnvironmentsDir, s.Environment))
	}
	s.StateBucket, from = first(EnvStateBucket)
	switch {
	case s.StateBucket != "" && !bucketPattern.MatchString(s.StateBucket):
		problems = append(problems, fmt.Sprintf("%s=%q is not a bucket name (3-63 lowercase letters, digits, '-' and '_')", from, s.StateBucket))
	case s.StateBucket == "" && projectPattern.MatchString(s.Project):
		s.StateBucket = DefaultStateBucket(s.Project)
		if !bucketPattern.MatchString(s.StateBucket) {
			problems = append(problems, fmt.Sprintf("the default state bucket %q is not a valid bucket name: set %s", s.StateBucket, EnvStateBucket))
		}
	}
	s.Terraform, _ = first(EnvTerraformBin)
	if s.Terraform == "" {
		s.Terraform = "terraform"
	}
	if len(problems) > 0 {
		return Settings{}, errors.New("deploy: missing or invalid configuration:\n  - " + strings.Join(problems, "\n  - "))
	}
	return s, nil
}

package deploy

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestDeployer_PlanAgainstProject runs `deploy plan` for environments/dev against a real
// project: the state bucket, terraform init (downloads the google provider) and plan. It
// changes nothing but creating the state bucket (STRATA_TF_STATE_BUCKET, default
// <project>-strata-tfstate) when it does not exist. It needs network access and Google
// credentials, so it runs only when GOOGLE_CLOUD_PROJECT names the project (and
// STRATA_REGION or GOOGLE_CLOUD_REGION the region).
func TestDeployer_PlanAgainstProject(t *testing.T) {
	if os.Getenv(EnvProject) == "" {
		t.Skip("set GOOGLE_CLOUD_PROJECT (and STRATA_REGION) to plan environments/dev against a real project; needs credentials and network")
	}
	s, err := SettingsFromEnv(os.Getenv, repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Environment = "dev"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d := &Deployer{Settings: s, Stdout: testWriter{t}, Stderr: testWriter{t}}
	if _, err := d.Plan(ctx); err != nil {
		t.Fatal(err)
	}
}

// testWriter sends output to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

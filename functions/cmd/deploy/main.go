// Command deploy packages Strata's functions and deploys them with Terraform.
//
//	deploy package [-o dist/functions.zip] [-verify]
//	deploy plan    [-var name=value]...
//	deploy apply   [-var name=value]...
//	deploy destroy [-var name=value]... [-auto-approve]
//	deploy outputs
//
// plan, apply, destroy and outputs work on terraform/environments/$STRATA_ENV (default dev)
// and read the target from the environment: GOOGLE_CLOUD_PROJECT (or STRATA_PROJECT) and
// STRATA_REGION (or GOOGLE_CLOUD_REGION). The state is in GCS: plan and apply create the state
// bucket (<project>-strata-tfstate, or STRATA_TF_STATE_BUCKET) on first use and say so, and
// every command inits against it with the prefix strata/<env>. apply packages first, then
// runs terraform init, plan and apply, and prints the outputs, the load balancer's URL first.
// TERRAFORM names the terraform binary (default: terraform on PATH).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stratastore/strata/functions/internal/deploy"
	"github.com/stratastore/strata/functions/internal/httpapi"
)

const usage = `usage: deploy <command> [flags]

commands:
  package   build dist/functions.zip (-o path; -verify also builds it like the buildpack
            and starts every function once)
  plan      state bucket (created on first use), terraform init + plan for
            terraform/environments/$STRATA_ENV
  apply     package, state bucket (created on first use), terraform init + plan + apply;
            prints the outputs
  destroy   terraform init + destroy (asks for the project id unless -auto-approve)
  outputs   print the environment's outputs

environment:
  GOOGLE_CLOUD_PROJECT or STRATA_PROJECT   project id (plan, apply, destroy, outputs)
  STRATA_REGION or GOOGLE_CLOUD_REGION     region, e.g. europe-west1
  STRATA_ENV                               dev (default) or prod
  STRATA_TF_STATE_BUCKET                   state bucket (default <project>-strata-tfstate);
                                           the state is under strata/$STRATA_ENV
  TERRAFORM                                terraform binary (default: terraform on PATH)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// varFlags collects repeated -var flags.
type varFlags []string

func (v *varFlags) String() string { return strings.Join(*v, ",") }

func (v *varFlags) Set(s string) error {
	if name, _, ok := strings.Cut(s, "="); !ok || name == "" {
		return fmt.Errorf("%q is not name=value", s)
	}
	*v = append(*v, s)
	return nil
}

// run executes one command and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("deploy "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		vars        varFlags
		output      = fs.String("o", "", "zip path (package; default <repo>/"+deploy.DefaultOutput+")")
		verify      = fs.Bool("verify", false, "build the zip like the buildpack and start every function (package)")
		autoApprove = fs.Bool("auto-approve", false, "do not ask before destroying (destroy)")
	)
	fs.Var(&vars, "var", "extra Terraform variable name=value (plan, apply, destroy; repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "deploy %s: unexpected arguments %q\n", cmd, fs.Args())
		return 2
	}
	root, err := deploy.FindRepoRoot(".")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	pkg := func() (*deploy.PackageResult, error) {
		res, err := deploy.Package(ctx, deploy.PackageOptions{RepoRoot: root, Output: *output})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "packaged %s (%d files, md5 %s)\n", res.Path, len(res.Files), res.MD5)
		return res, nil
	}
	switch cmd {
	case "package":
		res, err := pkg()
		if err == nil && *verify {
			err = verifyPackage(ctx, res.Path, stdout)
		}
		return exitOn(err, stderr)
	case "plan", "apply", "destroy", "outputs":
	default:
		fmt.Fprintf(stderr, "deploy: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	settings, err := deploy.SettingsFromEnv(getenv, root)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	d := &deploy.Deployer{Settings: settings, Vars: vars, Stdout: stdout, Stderr: stderr}
	fmt.Fprintf(stdout, "environment %s: project %s, region %s, state gs://%s/%s/\n", settings.Environment, settings.Project, settings.Region, settings.StateBucket, settings.StatePrefix())
	switch cmd {
	case "plan":
		_, err = d.Plan(ctx)
		return exitOn(err, stderr)
	case "apply":
		res, err := pkg()
		if err != nil {
			return exitOn(err, stderr)
		}
		d.SourceArchive = res.Path
		outputs, err := d.Apply(ctx)
		if err != nil {
			return exitOn(err, stderr)
		}
		fmt.Fprint(stdout, "\n"+deploy.FormatOutputs(outputs))
		if u, _ := outputs["url"].(string); u != "" {
			fmt.Fprintf(stdout, "\nStrata is at %s (a new managed certificate can take a while to become active).\nSmoke test: STRATA_E2E_URL=%s scripts/smoke.sh\n", u, u)
		}
		return 0
	case "destroy":
		if !*autoApprove {
			fmt.Fprintf(stdout, "This destroys environment %s in project %s. Type the project id to confirm: ", settings.Environment, settings.Project)
			line, _ := bufio.NewReader(stdin).ReadString('\n')
			if strings.TrimSpace(line) != settings.Project {
				fmt.Fprintln(stderr, "deploy: not confirmed; nothing destroyed")
				return 1
			}
		}
		return exitOn(d.Destroy(ctx), stderr)
	default: // outputs
		outputs, err := d.Outputs(ctx)
		if err == nil {
			fmt.Fprint(stdout, deploy.FormatOutputs(outputs))
		}
		return exitOn(err, stderr)
	}
}

// verifyPackage builds the zip like the buildpack and starts every function once.
func verifyPackage(ctx context.Context, zipPath string, stdout io.Writer) error {
	work, err := os.MkdirTemp("", "strata-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := deploy.BuildLikeBuildpack(ctx, zipPath, work, deploy.BuildOptions{})
	if err != nil {
		return err
	}
	var failed []string
	for _, f := range httpapi.Functions() {
		env := []string{"STRATA_STORAGE=local", "STRATA_DATA_DIR=" + filepath.Join(work, "data-"+f.Name), "STRATA_AUTH_ENFORCE=false"}
		status, err := deploy.ProbeFunction(ctx, bin, f.Name, env, 30*time.Second)
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		fmt.Fprintf(stdout, "  %-24s serves (GET / -> %d)\n", f.Name, status)
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "\n"))
	}
	fmt.Fprintln(stdout, "verified: the zip builds like the buildpack builds it and every function starts")
	return nil
}

// exitOn prints err, if any, and returns the exit status.
func exitOn(err error, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// Command composecheck loads a Compose file exactly as Docker Compose does, with
// compose-go, the Compose Specification's reference implementation: JSON-schema
// validation, ${VAR} interpolation, normalisation and the consistency checks (every
// depends_on, network, volume and config a service names must exist).
//
// Interpolation uses only the variables of -env-file (the committed .env.example), never
// the caller's environment or a developer's real .env, so the result is the same on every
// machine. env_file entries are not opened for the same reason; the deploy tests compare
// them with .env.example instead.
//
// Usage: composecheck -env-file .env.example [-out project.json] docker-compose.yml
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	envFile := flag.String("env-file", "", "dotenv file whose values feed ${VAR} interpolation")
	out := flag.String("out", "", "write the resolved project model here, as JSON")
	flag.Parse()
	if flag.NArg() == 0 || *envFile == "" {
		fmt.Fprintln(os.Stderr, "usage: composecheck -env-file FILE [-out FILE] COMPOSE_FILE...")
		os.Exit(2)
	}
	if err := run(flag.Args(), *envFile, *out); err != nil {
		fmt.Fprintf(os.Stderr, "compose: %v\n", err)
		os.Exit(1)
	}
}

func run(files []string, envFile, out string) error {
	options, err := cli.NewProjectOptions(files,
		cli.WithName("ticketflow"),
		cli.WithEnvFiles(envFile),
		cli.WithDotEnv,
		cli.WithoutEnvironmentResolution,
		cli.WithResolvedPaths(true),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}
	names := project.ServiceNames()
	sort.Strings(names)
	fmt.Printf("compose: %s is valid (%d services: %v)\n", files[0], len(names), names)
	if out == "" {
		return nil
	}
	data, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	return os.WriteFile(out, data, 0o644)
}

// compose-env-oracle: reads env files exactly as docker compose does for a service's `env_file:` entries, so
// coffre's tests can compare what coffre meant to write with what compose will read.
//
// stdin: a JSON array of absolute file paths. stdout: a JSON array, one item per path, either
// {"env": {"KEY": "<base64 of the value's bytes>"}} or {"error": "<compose's error>"}.
// Each file is the only env_file of a one-service project with no project environment and no
// `environment:` (so any `$VAR` reference left unescaped resolves to nothing and shows up as a difference),
// resolved by compose-go's own Project.WithServicesEnvironmentResolved — the code path of `docker compose`.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/types"
)

type result struct {
	Env   map[string]*string `json:"env,omitempty"`
	Error string             `json:"error,omitempty"`
}

func resolve(path string) result {
	project := types.Project{
		Name:        "oracle",
		Environment: types.Mapping{},
		Services: types.Services{
			"svc": types.ServiceConfig{
				Name:          "svc",
				ContainerSpec: types.ContainerSpec{EnvFiles: []types.EnvFile{{Path: path, Required: true}}},
			},
		},
	}
	resolved, err := project.WithServicesEnvironmentResolved(true)
	if err != nil {
		return result{Error: err.Error()}
	}
	env := map[string]*string{}
	for key, value := range resolved.Services["svc"].Environment {
		if value == nil {
			env[key] = nil
			continue
		}
		encoded := base64.StdEncoding.EncodeToString([]byte(*value))
		env[key] = &encoded
	}
	return result{Env: env}
}

func main() {
	var paths []string
	if err := json.NewDecoder(os.Stdin).Decode(&paths); err != nil {
		fmt.Fprintln(os.Stderr, "compose-env-oracle: stdin must be a JSON array of file paths:", err)
		os.Exit(2)
	}
	results := make([]result, len(paths))
	for i, path := range paths {
		results[i] = resolve(path)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "compose-env-oracle:", err)
		os.Exit(1)
	}
}

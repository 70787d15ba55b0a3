package deployaws_test

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// envValue returns the literal value of a container's environment variable.
func envValue(c any, name string) (string, bool) {
	for _, e := range asList(get(c, "Environment")) {
		if get(e, "Name") == name {
			v, ok := get(e, "Value").(string)
			return v, ok
		}
	}
	return "", false
}

// TestContainersWriteOnlyToVolumes: every container of every task
// definition has a read-only root filesystem, and each directory tenantry
// writes to (temporary files, the compiled PDF engine's cache) is on a
// writable task volume.
func TestContainersWriteOnlyToVolumes(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	n := 0
	for _, name := range tpl.resourcesOfType("AWS::ECS::TaskDefinition") {
		props := tpl.props(name)
		volumes := map[string]bool{}
		for _, v := range asList(get(props, "Volumes")) {
			volumes[fmt.Sprint(get(v, "Name"))] = true
		}
		for _, c := range asList(get(props, "ContainerDefinitions")) {
			n++
			if get(c, "ReadonlyRootFilesystem") != true {
				t.Errorf("%s/%v: ReadonlyRootFilesystem is not true", name, get(c, "Name"))
			}
			var writable []string
			for _, m := range asList(get(c, "MountPoints")) {
				if !volumes[fmt.Sprint(get(m, "SourceVolume"))] {
					t.Errorf("%s: mount of an undeclared volume %v", name, get(m, "SourceVolume"))
				}
				if get(m, "ReadOnly") == false {
					writable = append(writable, fmt.Sprint(get(m, "ContainerPath")))
				}
			}
			onVolume := func(dir string) bool {
				return slices.ContainsFunc(writable, func(w string) bool {
					return dir == w || strings.HasPrefix(path.Clean(dir)+"/", path.Clean(w)+"/")
				})
			}
			if !onVolume("/tmp") {
				t.Errorf("%s: /tmp is not a writable volume", name)
			}
			cmd := asList(get(c, "Command"))
			if len(cmd) > 0 && (cmd[0] == "worker" || cmd[0] == "lambda") {
				dir, ok := envValue(c, "TENANTRY_PDF_CACHE_DIR")
				if !ok || !path.IsAbs(dir) || !onVolume(dir) {
					t.Errorf("%s: TENANTRY_PDF_CACHE_DIR %q is not on a writable volume %v (the default, the user cache dir, is on the read-only root)", name, dir, writable)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no container definitions")
	}
}

// TestWorkerHealthCheck: the worker container's health check is the
// binary's own probe of /readyz on the ops port (exec form: no shell).
func TestWorkerHealthCheck(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	c := asList(get(tpl.props("WorkerTaskDefinition"), "ContainerDefinitions"))[0]
	cmd := asList(get(c, "HealthCheck", "Command"))
	ops, _ := envValue(c, "TENANTRY_OPS_ADDR")
	port := strings.TrimPrefix(ops, ":")
	if len(cmd) < 3 || cmd[0] != "CMD" || cmd[1] != "/usr/local/bin/tenantry" || cmd[2] != "health" {
		t.Fatalf("health check %v: want [CMD, /usr/local/bin/tenantry, health, ...]", cmd)
	}
	if !slices.Contains(cmd, any("http://127.0.0.1:"+port+"/readyz")) {
		t.Errorf("health check %v does not probe /readyz on the ops port %s", cmd, port)
	}
	var sp int
	if _, err := fmt.Sscan(fmt.Sprint(get(c, "HealthCheck", "StartPeriod")), &sp); err != nil || sp < 30 {
		t.Errorf("StartPeriod %v: the preflight and the PDF engine's first compile need time", get(c, "HealthCheck", "StartPeriod"))
	}
}

// TestMigrateTask: the one-off migrate task runs `tenantry migrate` with
// only variables MigrateCmd reads (every required one set), logs in with
// the owner's secret, never the worker's, and has no task role (it calls no
// AWS API); only its own execution role may read the owner's secret.
func TestMigrateTask(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	props := tpl.props("MigrateTaskDefinition")
	if props == nil {
		t.Fatal("no MigrateTaskDefinition")
	}
	if get(props, "TaskRoleArn") != nil {
		t.Error("the migrate task has a task role: migrate calls no AWS API")
	}
	structs, err := cliStructs(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	reads := map[string]envVar{}
	commandEnv(structs, "MigrateCmd", reads, 0)
	commandEnv(structs, "Globals", reads, 0)
	c := asList(get(props, "ContainerDefinitions"))[0]
	if cmd := asList(get(c, "Command")); len(cmd) != 1 || cmd[0] != "migrate" {
		t.Errorf("command %v, want [migrate]", cmd)
	}
	set := map[string]bool{}
	for _, e := range asList(get(c, "Environment")) {
		name := fmt.Sprint(get(e, "Name"))
		set[name] = true
		if _, ok := reads[name]; !ok && standardEnv[name] == "" {
			t.Errorf("the migrate task sets %s, which tenantry migrate does not read", name)
		}
	}
	for _, s := range asList(get(c, "Secrets")) {
		set[fmt.Sprint(get(s, "Name"))] = true
		if v := fmt.Sprint(get(s, "ValueFrom")); !strings.Contains(v, "DatabaseOwnerSecretArn") || strings.Contains(v, "DatabaseSecret}") {
			t.Errorf("secret %v does not come from the owner's secret", get(s, "Name"))
		}
	}
	for name, v := range reads {
		if v.Required && !set[name] {
			t.Errorf("tenantry migrate requires %s; the task does not set it", name)
		}
	}
	if !set["PGPASSWORD"] {
		t.Error("the owner's password is not injected")
	}
	// Only the migrate execution role reads the owner's secret.
	for _, role := range tpl.resourcesOfType("AWS::IAM::Role") {
		doc := fmt.Sprint(get(tpl.props(role), "Policies"))
		if strings.Contains(doc, "DatabaseOwnerSecretArn") != (role == "MigrateExecutionRole") {
			t.Errorf("role %s: reading the owner's secret is for MigrateExecutionRole only", role)
		}
	}
}

// TestDatabaseAuth: with DatabaseAuth=iam the worker gets no password (ECS
// injects none), logs in with IAM tokens, and may connect only as the
// worker user of the given cluster; with password it gets the secret's
// password and no rds-db:connect.
func TestDatabaseAuth(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	scs, err := tpl.scenarios(conditionSamples)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, sc := range scs {
		r, err := tpl.render(sc, nil)
		if err != nil {
			t.Fatal(err)
		}
		iam := sc.Params["DatabaseAuth"] == "iam"
		seen[sc.Params["DatabaseAuth"]] = true
		c := asList(get(r.props("WorkerTaskDefinition"), "ContainerDefinitions"))[0]
		password := false
		for _, s := range asList(get(c, "Secrets")) {
			password = password || get(s, "Name") == "PGPASSWORD"
		}
		flag, _ := envValue(c, "TENANTRY_DATABASE_IAM_AUTH")
		var connect []any
		for _, st := range allStatements(r) {
			if st.Kind == identityPolicy && slices.Contains(st.Roles, "WorkerTaskRole") && slices.Contains(st.Actions, "rds-db:connect") {
				connect = append(connect, st.Resources...)
			}
		}
		switch {
		case iam && (password || flag != "true"):
			t.Errorf("%s: iam auth, but PGPASSWORD injected=%v, TENANTRY_DATABASE_IAM_AUTH=%q", sc, password, flag)
		case !iam && (!password || flag != "false" || len(connect) > 0):
			t.Errorf("%s: password auth, but PGPASSWORD injected=%v, TENANTRY_DATABASE_IAM_AUTH=%q, rds-db:connect on %v", sc, password, flag, connect)
		case iam && (len(connect) != 1 || !strings.HasSuffix(fmt.Sprint(connect[0]), ":dbuser:${DatabaseResourceId}/${DatabaseWorkerUser}]")):
			t.Errorf("%s: rds-db:connect on %v, want only the worker user of DatabaseResourceId", sc, connect)
		}
	}
	if !seen["iam"] || !seen["password"] {
		t.Errorf("scenarios cover %v", seen)
	}
}

// TestTaskFunction: the Express task function runs `tenantry lambda` from
// the worker's image with only variables LambdaCmd reads (every required
// one set), logs in with IAM tokens (no password anywhere in its
// configuration), writes only to /tmp, and runs in the VPC.
func TestTaskFunction(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	props := tpl.props("TaskFunction")
	if props == nil {
		t.Fatal("no TaskFunction")
	}
	structs, err := cliStructs(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	reads := map[string]envVar{}
	commandEnv(structs, "LambdaCmd", reads, 0)
	commandEnv(structs, "Globals", reads, 0)
	if cmd := asList(get(props, "ImageConfig", "Command")); len(cmd) != 1 || cmd[0] != "lambda" {
		t.Errorf("command %v, want [lambda]", cmd)
	}
	vars, _ := get(props, "Environment", "Variables").(map[string]any)
	for name, v := range vars {
		if _, ok := reads[name]; !ok {
			t.Errorf("the function sets %s, which tenantry lambda does not read", name)
		}
		if strings.Contains(strings.ToLower(name), "password") || strings.Contains(fmt.Sprint(v), "DatabaseSecret") {
			t.Errorf("%s: a database password in the function's configuration", name)
		}
	}
	for name, v := range reads {
		if v.Required && vars[name] == nil {
			t.Errorf("tenantry lambda requires %s; the function does not set it", name)
		}
	}
	if vars["TENANTRY_DATABASE_IAM_AUTH"] != "true" {
		t.Error("the function does not log in with IAM tokens")
	}
	if dir, _ := vars["TENANTRY_PDF_CACHE_DIR"].(string); !strings.HasPrefix(dir, "/tmp/") {
		t.Errorf("TENANTRY_PDF_CACHE_DIR %q: Lambda's only writable directory is /tmp", dir)
	}
	if get(props, "VpcConfig", "SubnetIds") == nil || get(props, "TracingConfig", "Mode") != "Active" {
		t.Error("the function must run in the VPC (the database) with active tracing")
	}
	if fmt.Sprint(get(props, "Code", "ImageUri")) != fmt.Sprint(asList(get(tpl.props("WorkerTaskDefinition"), "ContainerDefinitions"))[0].(map[string]any)["Image"]) {
		t.Error("the function does not run the worker's image")
	}
	if tpl.Resources["TaskFunction"]["Condition"] != "UseExpress" {
		t.Error("the function exists outside PipelineType=express")
	}
}

// TestExpressStateMachine: the Express machine's definition file exists,
// every ${Variable} it uses is substituted, and nothing else is.
func TestExpressStateMachine(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	p := tpl.props("ExpressPipelineStateMachine")
	loc, _ := p["DefinitionS3Location"].(string)
	if path.Clean(path.Join("deploy/aws", loc)) != expressDefinitionPath || p["StateMachineType"] != "EXPRESS" {
		t.Fatalf("DefinitionS3Location %q, type %v", loc, p["StateMachineType"])
	}
	data, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(expressDefinitionPath)))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`).FindAllStringSubmatch(string(data), -1) {
		used[m[1]] = true
	}
	subs, _ := p["DefinitionSubstitutions"].(map[string]any)
	for v := range used {
		if subs[v] == nil {
			t.Errorf("the definition uses ${%s}; the template does not substitute it", v)
		}
	}
	for v := range subs {
		if !used[v] {
			t.Errorf("substitution %s is not used by the definition", v)
		}
	}
}

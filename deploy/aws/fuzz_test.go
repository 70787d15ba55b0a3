package deployaws_test

import (
	"strings"
	"testing"
)

var subCases = []struct {
	in   string
	vars []subVar
	bad  bool
}{
	{in: "${AWS::Region}", vars: []subVar{{Name: "AWS::Region"}}},
	{in: "arn:${AWS::Partition}:s3:::${NamePrefix}-x", vars: []subVar{{Name: "AWS::Partition"}, {Name: "NamePrefix"}}},
	{in: "${UploadBucket.Arn}/*", vars: []subVar{{Name: "UploadBucket", Attr: "Arn"}}},
	{in: "${!Literal} ${A}", vars: []subVar{{Name: "A"}}},
	{in: "${A", bad: true},
	{in: "${}", bad: true},
	{in: "${A B}", bad: true},
	{in: "no variables"},
}

func TestParseSub(t *testing.T) {
	t.Parallel()
	for _, tc := range subCases {
		got, err := parseSub(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("parseSub(%q) error %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if !tc.bad && len(got) != len(tc.vars) {
			t.Errorf("parseSub(%q) = %v, want %v", tc.in, got, tc.vars)
			continue
		}
		for i := range got {
			if !tc.bad && got[i] != tc.vars[i] {
				t.Errorf("parseSub(%q)[%d] = %v, want %v", tc.in, i, got[i], tc.vars[i])
			}
		}
	}
}

func FuzzParseSub(f *testing.F) {
	for _, tc := range subCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vars, err := parseSub(s)
		if err != nil {
			return
		}
		for _, v := range vars {
			if v.Name == "" || strings.ContainsAny(v.Name, "${} \t\n") {
				t.Fatalf("parseSub(%q) returned variable %+v", s, v)
			}
		}
	})
}

var shellCases = []struct {
	in   string
	want []string
	bad  bool
}{
	{in: `CGO_ENABLED=0 go build -ldflags "-s -w -X main.version=${V}" ./cmd/x`, want: []string{"CGO_ENABLED=0", "go", "build", "-ldflags", "-s -w -X main.version=1", "./cmd/x"}},
	{in: `echo '$V' $V`, want: []string{"echo", "$V", "1"}},
	{in: `a\ b`, want: []string{"a b"}},
	{in: `go build && rm -rf /`, bad: true},
	{in: `echo $UNKNOWN`, bad: true},
	{in: `echo "unterminated`, bad: true},
	{in: `echo ${V`, bad: true},
}

func TestShellWords(t *testing.T) {
	t.Parallel()
	for _, tc := range shellCases {
		got, err := shellWords(tc.in, map[string]string{"V": "1"})
		if (err != nil) != tc.bad {
			t.Errorf("shellWords(%q) error %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if !tc.bad && strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("shellWords(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzShellWords(f *testing.F) {
	for _, tc := range shellCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = shellWords(s, map[string]string{"V": "1", "VERSION": "v"})
	})
}

var dockerfileCases = []struct {
	in  string
	bad bool
}{
	{in: "FROM a AS b\nRUN x \\\n  y\nFROM c\nCOPY --from=b /x /y\n"},
	{in: "# syntax=docker/dockerfile:1\nARG V=1\nFROM a:${V}\n"},
	{in: "RUN x\n", bad: true},
	{in: "FROM a AS\n", bad: true},
	{in: "FROM a\nRUN x \\\n", bad: true},
	{in: "", bad: true},
	{in: "FROM a\nrun-this thing\n", bad: true},
}

func TestParseDockerfileRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range dockerfileCases {
		_, err := parseDockerfile([]byte(tc.in))
		if (err != nil) != tc.bad {
			t.Errorf("parseDockerfile(%q) error %v, want error %v", tc.in, err, tc.bad)
		}
	}
}

func FuzzParseDockerfile(f *testing.F) {
	for _, tc := range dockerfileCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		df, err := parseDockerfile([]byte(s))
		if err != nil {
			return
		}
		if len(df.Stages) == 0 {
			t.Fatal("parsed without a stage")
		}
		_, _, _ = df.buildStep(map[string]string{})
	})
}

var templateCases = []struct {
	in  string
	bad bool
}{
	{in: "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub '${AWS::StackName}-q'\n"},
	{in: "Resources:\n  Q:\n    Type: AWS::SQS::Queue\nOutputs:\n  A:\n    Value: !GetAtt Q.Arn\n"},
	{in: "Resources:\n  Q: &a\n    Type: X\n  R: *a\n", bad: true},
	{in: "Resources:\n  Q:\n    Type: X\n  Q:\n    Type: Y\n", bad: true},
	{in: "Resources:\n  Q:\n    Enabled: yes\n", bad: true},
	{in: "Resources:\n  Q:\n    Value: !Bogus x\n", bad: true},
	{in: "Resources:\n  Q:\n    Value: !GetAtt NoAttribute\n", bad: true},
	{in: "- a list\n", bad: true},
	{in: "Parameters: {}\n", bad: true},
}

func TestParseTemplateRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range templateCases {
		_, err := parseTemplate([]byte(tc.in))
		if (err != nil) != tc.bad {
			t.Errorf("parseTemplate(%q) error %v, want error %v", tc.in, err, tc.bad)
		}
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, tc := range templateCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := parseTemplate([]byte(s))
		if err != nil {
			return
		}
		// The checks must not panic on whatever parses.
		var fd findings
		checkReferencesResolve(&fd, tpl)
		checkEverythingDeclaredIsUsed(&fd, tpl)
		checkParametersHaveTypesAndConstraints(&fd, tpl)
		_ = allStatements(tpl)
	})
}

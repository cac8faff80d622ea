package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// javaFlags keeps the client JVMs small and quick to start.
var javaFlags = []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.net.preferIPv4Stack=true"}

// javaClientJars is the Java client; zookeeper.jar's manifest pulls in the
// rest (netty, commons-cli, ...). slf4j-nop silences client logging.
var javaClientJars = []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "?slf4j-nop.jar"}

// recipeJars are the recipes shipped by Debian's zookeeper package.
var recipeJars = []string{"zookeeper-recipes-lock.jar", "zookeeper-recipes-election.jar", "zookeeper-recipes-queue.jar"}

// compileJava compiles test/e2e/java/<class>.java against jars and returns
// the directory holding the class files and the runtime classpath.
func compileJava(t *testing.T, class string, jars []string) (classDir, cp string) {
	t.Helper()
	javac := needTool(t, "default-jdk-headless", "javac", "/usr/lib/jvm/default-java/bin/javac")
	needTool(t, "default-jre-headless", "java", "/usr/bin/java")
	cp, miss := classpath(jars...)
	if miss != "" {
		missing(t, miss+" not found in "+javaDir+" (package zookeeper)")
	}
	src, err := filepath.Abs(filepath.Join("java", class+".java"))
	if err != nil {
		t.Fatal(err)
	}
	classDir = t.TempDir()
	r := run(t, 90*time.Second, "", nil, javac, "-nowarn", "-encoding", "UTF-8", "-cp", cp, "-d", classDir, src)
	if r.code != 0 {
		t.Fatalf("javac %s: exit %d\n%s", src, r.code, r.out)
	}
	return classDir, cp + string(os.PathListSeparator) + classDir
}

// runJavaChecks runs a compiled check program and turns each PASS/FAIL line
// it prints into a subtest.
func runJavaChecks(t *testing.T, class, cp string, timeout time.Duration) {
	t.Helper()
	java := needTool(t, "default-jre-headless", "java", "/usr/bin/java")
	args := append(append([]string{}, javaFlags...), "-cp", cp, class, serverAddr, uniquePath(t))
	r := run(t, timeout, "", nil, java, args...)
	reportChecks(t, class, r)
}

// checkLine is the verdict line format of the Java and Python check programs.
var checkLine = regexp.MustCompile(`(?m)^(PASS|FAIL) ([A-Za-z0-9_.-]+)(?:: (.*))?$`)

// reportChecks maps "PASS name" / "FAIL name: why" lines to subtests and
// requires a zero exit status and at least one check.
func reportChecks(t *testing.T, prog string, r runResult) {
	t.Helper()
	matches := checkLine.FindAllStringSubmatch(r.out, -1)
	for _, m := range matches {
		verdict, name, why := m[1], m[2], m[3]
		t.Run(name, func(t *testing.T) {
			if verdict == "FAIL" {
				t.Error(why)
			}
		})
	}
	if r.code != 0 || len(matches) == 0 {
		t.Fatalf("%s: exit %d, %d checks reported; output:\n%s", prog, r.code, len(matches), r.out)
	}
	if strings.Contains(r.out, "FAIL ") {
		t.Logf("%s output:\n%s", prog, r.out)
	}
}

// TestJavaClient exercises the Java client API: watches, multi, ACLs,
// persistent watches, ephemerals, sequential names, TTL and container nodes.
func TestJavaClient(t *testing.T) {
	t.Parallel()
	_, cp := compileJava(t, "E2E", javaClientJars)
	runJavaChecks(t, "E2E", cp, 120*time.Second)
}

// TestJavaRecipes runs the lock, election and queue recipes shipped in the
// zookeeper package with several contending sessions.
func TestJavaRecipes(t *testing.T) {
	t.Parallel()
	for _, j := range recipeJars {
		if _, err := os.Stat(filepath.Join(javaDir, j)); err != nil {
			missing(t, "recipes jar "+j+" is not in "+javaDir+"; this zookeeper package does not ship the recipes")
		}
	}
	_, cp := compileJava(t, "Recipes", append(append([]string{}, javaClientJars...), recipeJars...))
	runJavaChecks(t, "Recipes", cp, 120*time.Second)
}

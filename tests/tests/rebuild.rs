//! Rebuilds: editing, adding, removing or renaming a prompt file re-runs generation and the
//! change is visible in the built binary; nothing else re-runs it; unchanged output is not
//! rewritten.

use std::fs;
use std::path::PathBuf;
use std::time::SystemTime;

use promptops_tests::FixtureCrate;

fn prompt(id: &str, version: u32) -> String {
    format!(
        "id: {id}\nversion: {version}\nowner: team\nmodel: nova-lite\ntags: []\ntemplate: |\n  Say hello to {{{{ name }}}}.\n"
    )
}

struct Rebuild {
    fixture: FixtureCrate,
}

impl Rebuild {
    /// `cargo build -v`, then runs the binary; returns (build script re-ran, program output).
    fn build_and_run(&self) -> (bool, String) {
        let build = self.fixture.cargo("build", &["-v"]).expect("cargo build");
        assert!(build.success, "build failed:\n{}", build.stderr);
        let ran_build_script = build
            .stderr
            .lines()
            .any(|line| line.contains("Running") && line.contains("build-script-build"));
        let run = self.fixture.cargo("run", &["-q"]).expect("cargo run");
        assert!(run.success, "run failed:\n{}", run.stderr);
        (ran_build_script, run.stdout)
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.fixture.prompts().join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write prompt");
    }

    fn generated_file(&self) -> PathBuf {
        let run = self
            .fixture
            .cargo("run", &["-q", "--", "out-dir"])
            .expect("cargo run");
        PathBuf::from(run.stdout.trim()).join("prompts.rs")
    }
}

fn modified(path: &PathBuf) -> SystemTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime")
}

#[test]
fn prompt_edits_regenerate_and_nothing_else_does() {
    let fixture = FixtureCrate::create("rebuild", true).expect("fixture crate");
    fs::write(
        fixture.dir.join("src/main.rs"),
        "include!(concat!(env!(\"OUT_DIR\"), \"/prompts.rs\"));\n\n\
         fn main() {\n    if std::env::args().nth(1).as_deref() == Some(\"out-dir\") {\n        println!(\"{}\", env!(\"OUT_DIR\"));\n        return;\n    }\n    for def in ALL.iter() {\n        println!(\"{} v{} {}\", def.id, def.version, def.source_path.as_deref().unwrap_or_default());\n    }\n}\n",
    )
    .expect("main.rs");
    let t = Rebuild { fixture };

    t.write("greet/hello.yaml", &prompt("greet.hello", 1));
    let (ran, out) = t.build_and_run();
    assert!(ran, "first build runs the build script");
    assert_eq!(out, "greet.hello v1 greet/hello.yaml\n");

    // Nothing changed: the build script stays fresh.
    let (ran, _) = t.build_and_run();
    assert!(!ran, "a no-op build must not re-run generation");

    // Edit.
    t.write("greet/hello.yaml", &prompt("greet.hello", 2));
    let (ran, out) = t.build_and_run();
    assert!(ran, "editing a prompt re-runs generation");
    assert_eq!(out, "greet.hello v2 greet/hello.yaml\n");

    // Add, in a new directory.
    t.write("farewell/bye.yaml", &prompt("farewell.bye", 1));
    let (ran, out) = t.build_and_run();
    assert!(ran, "adding a prompt re-runs generation");
    assert_eq!(
        out,
        "farewell.bye v1 farewell/bye.yaml\ngreet.hello v2 greet/hello.yaml\n"
    );

    // Rename (file and id together).
    let prompts = t.fixture.prompts();
    fs::rename(
        prompts.join("farewell/bye.yaml"),
        prompts.join("farewell/so_long.yaml"),
    )
    .expect("rename");
    t.write("farewell/so_long.yaml", &prompt("farewell.so-long", 1));
    let (ran, out) = t.build_and_run();
    assert!(ran, "renaming a prompt re-runs generation");
    assert_eq!(
        out,
        "farewell.so-long v1 farewell/so_long.yaml\ngreet.hello v2 greet/hello.yaml\n"
    );

    // Remove.
    fs::remove_file(prompts.join("farewell/so_long.yaml")).expect("remove");
    let (ran, out) = t.build_and_run();
    assert!(ran, "removing a prompt re-runs generation");
    assert_eq!(out, "greet.hello v2 greet/hello.yaml\n");

    // Files outside the prompt tree do not re-run generation.
    fs::write(t.fixture.dir.join("README.md"), "unrelated\n").expect("write");
    fs::write(t.fixture.dir.join("src/extra.rs"), "// unrelated\n").expect("write");
    let (ran, _) = t.build_and_run();
    assert!(
        !ran,
        "editing files outside the prompt tree must not re-run generation"
    );

    // Touching a prompt without changing it re-runs the script, which leaves the output alone.
    let generated = t.generated_file();
    let before = modified(&generated);
    std::thread::sleep(std::time::Duration::from_millis(20));
    t.write("greet/hello.yaml", &prompt("greet.hello", 2));
    let (ran, out) = t.build_and_run();
    assert!(ran, "a rewritten prompt file re-runs generation");
    assert_eq!(out, "greet.hello v2 greet/hello.yaml\n");
    assert_eq!(
        modified(&generated),
        before,
        "identical output must not be rewritten"
    );

    // A change that breaks the tree fails the build; fixing it recovers.
    t.write(
        "greet/hello.yaml",
        &prompt("greet.hello", 2).replace("owner: team\n", ""),
    );
    let broken = t.fixture.cargo("build", &[]).expect("cargo build");
    assert!(!broken.success);
    assert!(
        broken
            .stderr
            .contains("error[P0101]: missing required field `owner`"),
        "{}",
        broken.stderr
    );
    t.write("greet/hello.yaml", &prompt("greet.hello", 3));
    let (_, out) = t.build_and_run();
    assert_eq!(out, "greet.hello v3 greet/hello.yaml\n");

    // Code that names a prompt with `prompt!` is re-checked when the tree changes.
    let main = t.fixture.dir.join("src/main.rs");
    let source = fs::read_to_string(&main).expect("main.rs");
    let with_reference = source.replace(
        "    for def in ALL.iter() {",
        "    println!(\"by id: {}\", prompt!(\"greet.hello\").id());\n    for def in ALL.iter() {",
    );
    fs::write(&main, with_reference).expect("write main.rs");
    let (_, out) = t.build_and_run();
    assert_eq!(out, "by id: greet.hello\ngreet.hello v3 greet/hello.yaml\n");
    fs::remove_file(prompts.join("greet/hello.yaml")).expect("remove");
    t.write("greet/hi.yaml", &prompt("greet.hi", 1));
    let stale = t.fixture.cargo("build", &[]).expect("cargo build");
    assert!(
        !stale.success,
        "a reference to a removed prompt must stop compiling"
    );
    assert!(
        stale.stderr.contains("no prompt with id `greet.hello`")
            && stale.stderr.contains("src/main.rs"),
        "{}",
        stale.stderr
    );
}

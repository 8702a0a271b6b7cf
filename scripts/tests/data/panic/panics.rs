// The panics whose text scripts/tests/test_panic.py parses: each case is
// one way a message or a thread can trip a parser.  Built and run by
// capture.sh with each rustc; keep every line where it is (the expected
// locations in test_panic.py are these line numbers).
use std::thread;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let n = std::env::args().count();
    match which.as_str() {
        "simple" => panic!("connect refused on purpose"),
        "multi" => panic!("first line\nsecond line: with colon\nthird', quoted"),
        "quote" => panic!("it's 'odd', isn't it: a:b:c"),
        "named" => { let _ = thread::Builder::new().name("worker-1".into()).spawn(|| panic!("in a named thread")).unwrap().join(); }
        "unnamed" => { let _ = thread::spawn(|| panic!("in an unnamed thread")).join(); }
        "unwrap" => { let x: Option<u32> = if n > 9 { Some(1) } else { None }; x.unwrap(); }
        "empty" => panic!(""),
        "trailing" => panic!("ends with newline\n"),
        "blank" => panic!("para one\n\npara two"),
        "fmt" => panic!("value {} at {}:{}", n, "x.rs", 3),
        "assert" => assert_eq!(n, 7, "args: {}", "few"),
        "two" => { let _ = thread::spawn(|| panic!("first of two")).join(); panic!("second of two"); }
        _ => {}
    }
}

macro_rules! drive {
    ($m:ident) => {{
        let mut s = $m::Lexy::__create();
        let mut t: Vec<String> = Vec::new();
        t.push(format!("feed={}", s.feed('a')));
        s.go(0); let st = s.state_no(); t.push(format!("n={} st={}", s.n, st));
        s.go(1); t.push(format!("st={}", s.state_no()));
        assert_eq!(s.state_no(), 1);
        s.go(9); s.go(2); assert_eq!(s.state_no(), 2);
        s.go(9); s.go(-5); assert_eq!(s.state_no(), 2);
        t.push(format!("st={}", s.state_no()));
        t
    }};
}

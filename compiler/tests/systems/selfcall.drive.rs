macro_rules! drive {
    ($m:ident) => {{
        let mut s = $m::Calc::__create();
        let mut t: Vec<String> = Vec::new();
        t.push(format!("run={}", s.run(4)));
        assert_eq!(s.acc, 8, "handler must stop after a transitioning self-call");
        t.push(format!("total={}", s.total()));
        assert_eq!(s.run(4), 13);
        t.push(format!("acc={}", s.acc));
        t
    }};
}

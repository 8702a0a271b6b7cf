macro_rules! drive {
    ($m:ident) => {{
        let mut s = $m::Relay::__create();
        let mut t: Vec<String> = Vec::new();
        let r = s.hit(4);
        t.push(format!("hit={} trace={}", r, s.trace));
        assert_eq!((r, s.trace), (5, 123));
        s.arm(); s.arm();
        t.push(format!("trace={}", s.trace));
        assert_eq!(s.trace, 123_42);
        t
    }};
}

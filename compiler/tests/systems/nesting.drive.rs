macro_rules! drive {
    ($m:ident) => {{
        let mut s = $m::Nest::__create();
        assert_eq!(s.a(), 1);
        assert_eq!(s.seen, 220);
        assert_eq!(s.a(), 2);
        vec![format!("seen={}", s.seen)]
    }};
}

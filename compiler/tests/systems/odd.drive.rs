macro_rules! drive {
    ($m:ident) => {{
        let mut s = $m::Odd::__create();
        let mut t: Vec<String> = Vec::new();
        assert_eq!(s.stamps, 1, "$> of the start state ran its self-call");
        s.put(2, 42);
        assert_eq!(s.peek(2), Some(42));
        assert_eq!(s.peek(9), None);
        s.bump(30); s.bump(30);
        assert_eq!(s.pair(), (7, 50));
        s.bump(500);
        assert_eq!(s.pair(), (7, 550));
        t.push(format!("{:?} {}", s.pair(), s.stamp()));
        s.go(0);
        t.push(format!("{:?}", s.pair()));
        s.go(3); // forwarded into $Other (fresh $Root vars): last = 3
        assert_eq!(s.pair(), (3, 3));
        s.go(4);
        assert_eq!(s.pair(), (4, 0));
        t.push(format!("{:?} {}", s.pair(), s.stamp()));
        let mut two = $m::Second::__create();
        assert_eq!(two.get(), 2);
        t
    }};
}

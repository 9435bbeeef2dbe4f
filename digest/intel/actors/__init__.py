"""Threat actors: the knowledge base (kb), vendor naming conventions (vendors), recognition in text
(recognize, with its precision rules and the alias links it learns: rules, learn, base) and who a
story is about (salience)."""

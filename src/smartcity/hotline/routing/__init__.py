"""Routing of the 12345 hotline (智能分派): the order classifier, automatic dispatch above a
confidence threshold, the dispatcher's top three below it, and duplicate orders (合并工单)."""
